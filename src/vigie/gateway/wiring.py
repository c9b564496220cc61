"""What ``vigie serve`` plugs into the gateway: the detection pipeline, after-commit hooks.

Kept apart from :mod:`vigie.gateway.app` so that the app factory stays free of other
domains: tests build the app with the observers they choose; the server uses these.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine

from vigie.detection.notify import Notifier
from vigie.gateway.observe import AccessObserver
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings
from vigie.store.engine import make_session_factory


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
    """Hooks run after each committed request: the audit checkpointer (throttled)."""
    from vigie.audit.checkpoints import Checkpointer

    checkpointer = Checkpointer.from_settings(settings, make_session_factory(engine), secrets)
    return [EveryFew(checkpointer.maybe_checkpoint, calls=100, seconds=1.0)]
