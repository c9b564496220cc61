"""What ``vigie serve`` plugs into the gateway: the detection pipeline, after-commit hooks,
and the audit checkpoint timer (the time rule on an idle server, a last one at shutdown)
or, on PostgreSQL, the audit sequencer (:mod:`vigie.audit.sequencer`) run beside it.

Kept apart from :mod:`vigie.gateway.app` so that the app factory stays free of other
domains: tests build the app with the observers they choose; the server uses these.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Protocol

from fastapi import FastAPI
from sqlalchemy import Engine

from vigie.detection.notify import Notifier
from vigie.gateway.observe import AccessObserver
from vigie.ops.logs import Code
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings
from vigie.store.engine import make_session_factory

if TYPE_CHECKING:
    from vigie.audit.checkpoints import Checkpointer

log = logging.getLogger(__name__)


def default_observers(
    settings: Settings, engine: Engine, *, notifier: Notifier
) -> list[AccessObserver]:
    """The detection pipeline: every detector, alerts sent through ``notifier``."""
    from vigie.detection.pipeline import DetectionConfig, DetectionPipeline

    return [
        DetectionPipeline(
            config=DetectionConfig.from_settings(settings),
            notifier=notifier,
            sessions=make_session_factory(engine),
        )
    ]


class EveryFew:
    """Run ``hook`` after at most ``calls`` calls or ``seconds`` seconds, whichever first.

    The audit checkpointer's own check costs two queries; calling it after every request
    would double the gateway's read load for a decision that changes every few thousand
    events. This bounds the delay instead (per worker process).
    """

    def __init__(self, hook: Callable[[], object], *, calls: int, seconds: float) -> None:
        self.hook = hook
        self.calls = calls
        self.seconds = seconds
        self._count = 0
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            self._count += 1
            now = time.monotonic()
            if self._count < self.calls and now - self._last < self.seconds:
                return
            self._count, self._last = 0, now
        self.hook()


def default_after_commit(
    settings: Settings, engine: Engine, *, secrets: InstanceSecrets
) -> list[Callable[[], None]]:
    """Hooks run after each committed request: the audit checkpointer (throttled).

    It is asked at least once a second, and after a tenth of the checkpoint's event
    interval (at most 1,000 requests, each adding at least one event): a checkpoint comes
    at most a second or 10 % of its interval late. Its look costs two ORM queries, about
    1 ms: asked every 100 requests, as before, it was 10–15 µs of every read.
    """
    checkpointer = default_checkpointer(settings, engine, secrets=secrets)
    calls = max(1, min(1000, settings.audit_checkpoint_every_events // 10))
    return [EveryFew(checkpointer.maybe_checkpoint, calls=calls, seconds=1.0)]


def default_checkpointer(
    settings: Settings, engine: Engine, *, secrets: InstanceSecrets
) -> Checkpointer:
    """The instance's checkpointer (its key, the configured interval)."""
    from vigie.audit.checkpoints import Checkpointer

    return Checkpointer.from_settings(settings, make_session_factory(engine), secrets)


class CheckpointTimer:
    """Applies the checkpointer's time rule when no request comes to trigger it.

    A daemon thread asks :meth:`Checkpointer.maybe_checkpoint` every ``period`` seconds
    (default: a quarter of ``every_seconds``, at most 30 s: two cheap queries when nothing
    is due). :meth:`stop` signs a last checkpoint over any event left unanchored, so a
    server stopped cleanly leaves no tail. A failed attempt is logged and retried.
    """

    def __init__(self, checkpointer: Checkpointer, *, period: float | None = None) -> None:
        self.checkpointer = checkpointer
        self.period = period or max(0.05, min(checkpointer.every_seconds / 4, 30.0))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="vigie-checkpoints", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self._attempt(self.checkpointer)

    def stop(self) -> None:
        """Stop the thread, then anchor whatever is left."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._attempt(dataclasses.replace(self.checkpointer, every_events=1))

    @staticmethod
    def _attempt(checkpointer: Checkpointer) -> None:
        try:
            checkpointer.maybe_checkpoint()
        except Exception as exc:  # a server keeps serving; verify --strict shows the tail
            log.error("audit checkpoint failed: %s", Code(type(exc).__name__))


class Background(Protocol):
    """Work a server runs beside its requests: the checkpoint timer, the audit sequencer."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


def run_during(app: FastAPI, timer: Background) -> FastAPI:
    """Run ``timer`` for as long as ``app`` is served (its lifespan); return ``app``."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        timer.start()
        try:
            async with inner(a) as state:
                yield state
        finally:
            timer.stop()

    app.router.lifespan_context = lifespan
    return app
