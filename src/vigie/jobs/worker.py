"""The worker: claims queued jobs one at a time and runs them, with a live heartbeat.

:meth:`Worker.run` loops until :meth:`Worker.stop` (``vigie worker`` calls it on SIGTERM
or SIGINT): before each claim it queues the periodic jobs that are due
(:mod:`vigie.jobs.schedule`; not with ``once``), recovers the jobs of dead workers
(:func:`vigie.jobs.queue.reap`), then claims the oldest queued job and runs its kind's
function. While the job runs a thread refreshes its heartbeat every
``jobs_heartbeat_seconds``; the job's progress reports refresh it too, and are where the
job is stopped: cancelled by an operator (state ``cancelled``), interrupted by
:meth:`Worker.stop` (put back in the queue, the run not counted), or taken over by
another worker after a stall (abandoned).

What is logged names the job by id and kind and the outcome; an error that is not one of
Vigie's own (whose messages are written to be safe) is stored and logged by class name
and place only, because a library's message may quote a value read from a leaked file.
The audit events a job appended are anchored by a checkpoint when it ends, as a CLI
command's are.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
import traceback
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from vigie.audit.checkpoints import AppendWatch, Checkpointer
from vigie.errors import VigieError
from vigie.jobs import queue, schedule
from vigie.jobs.context import Cancelled, Interrupted, JobContext
from vigie.jobs.kinds import KINDS, Kind
from vigie.jobs.models import Job
from vigie.jobs.queue import LeaseLost
from vigie.ops import metrics
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings
from vigie.store.engine import is_sqlite, make_engine, make_read_engine, make_session_factory

log = logging.getLogger(__name__)


def new_worker_id() -> str:
    """``host:pid:random``, unique to one worker process's life."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class _Flags:
    cancel: bool = False
    lost: bool = False


class Worker:
    """Runs queued jobs from the store of ``settings`` until stopped."""

    def __init__(
        self,
        *,
        settings: Settings,
        secrets: InstanceSecrets,
        engine: Engine | None = None,
        kinds: Mapping[str, Kind] = KINDS,
        worker_id: str | None = None,
    ) -> None:
        url = settings.resolved_database_url
        self.settings = settings
        self.secrets = secrets
        self._own_engine = engine is None
        self.engine = engine or make_engine(url)
        self.reader = make_read_engine(url) if is_sqlite(self.engine) else self.engine
        self.sessions = make_session_factory(self.engine)
        self.kinds = kinds
        self.worker_id = worker_id or new_worker_id()
        self.stopping = threading.Event()

    def stop(self) -> None:
        """Stop claiming; the running job is put back in the queue at its next report."""
        self.stopping.set()

    def run(self, *, once: bool = False) -> int:
        """Run jobs until stopped (or, ``once``, until none is queued); return how many.

        A store that cannot be reached (a database restart) is retried every poll
        interval rather than ending the worker; with ``once`` the error is raised.
        """
        ran = 0
        while not self.stopping.is_set():
            try:
                if not once:
                    self.enqueue_scheduled()
                job = self.run_next()
            except SQLAlchemyError as exc:
                if once:
                    raise
                log.error("the store cannot be reached (%s); retrying", type(exc).__name__)
                job = None
            if job is None:
                if once:
                    break
                self.stopping.wait(self.settings.jobs_poll_seconds)
            else:
                ran += 1
        return ran

    def enqueue_scheduled(self) -> list[Job]:
        """Queue the periodic jobs that are due and whose lease this worker wins
        (:mod:`vigie.jobs.schedule`); a plain read when none is due."""
        with Session(self.reader) as peek:
            if not schedule.anything_due(peek, settings=self.settings, kinds=self.kinds):
                return []
        with self.sessions.begin() as session:
            queued = schedule.enqueue_due(
                session, settings=self.settings, worker_id=self.worker_id, kinds=self.kinds
            )
        for job in queued:
            log.info("job %s (%s): scheduled", job.id, job.kind)
        return queued

    def run_next(self) -> Job | None:
        """Recover dead workers' jobs, then claim and run the oldest queued job, if any."""
        stale_after = self.settings.jobs_stale_after_seconds
        with Session(self.reader) as peek:  # idle polls are reads: no write lock
            stale = queue.has_stale(peek, stale_after=stale_after)
            queued = queue.has_queued(peek)
            self._count_pending(queue.pending_by_kind(peek))
        if not (stale or queued):
            return None
        recovered: dict[int, str] = {}
        with self.sessions.begin() as session:
            if stale:
                recovered = queue.reap(
                    session, stale_after=stale_after, max_attempts=self.settings.jobs_max_attempts
                )
            job = None if self.stopping.is_set() else queue.claim(session, worker_id=self.worker_id)
        for job_id, state in recovered.items():
            log.warning("job %s: its worker stopped answering; now %s", job_id, state)
        if job is None:
            return None
        log.info("job %s (%s): started, attempt %s", job.id, job.kind, job.attempts)
        self._execute(job)
        with self.sessions() as session:
            return queue.get_job(session, job_id=job.id)

    def _count_pending(self, pending: Mapping[str, int]) -> None:
        """Publish the jobs waiting or running, by kind (zero for the kinds with none)."""
        for kind in sorted(set(self.kinds) | set(pending)):
            metrics.child(metrics.JOBS_PENDING, kind).set(pending.get(kind, 0))

    def _execute(self, job: Job) -> None:
        flags = _Flags()
        ended = threading.Event()
        beating = threading.Thread(
            target=self._heartbeat, args=(job.id, flags, ended), daemon=True, name="job-heartbeat"
        )
        watch = AppendWatch(self.engine)
        beating.start()
        try:
            self._outcome(job, self._run(job, flags))
        finally:
            ended.set()
            beating.join()
            watch.close()
            if watch.appended:
                self._anchor(job)

    def _run(self, job: Job, flags: _Flags) -> tuple[str, Any]:
        kind = self.kinds.get(job.kind)
        if kind is None:
            return "failed", f"unknown job kind {job.kind!r} (a newer Vigie queued it?)"
        ctx = JobContext(
            job_id=job.id,
            actor=job.actor,
            settings=self.settings,
            secrets=self.secrets,
            engine=self.engine,
            reader=self.reader,
            sessions=self.sessions,
            report=lambda phase, done, total: self._report(job.id, flags, phase, done, total),
        )
        try:
            result = kind.run(ctx, dict(job.params))
            json.dumps(result)  # what cannot be stored fails the job, not the worker
            return "done", result
        except Cancelled:
            return "cancelled", None
        except Interrupted:
            return "released", None
        except LeaseLost:
            return "lost", None
        except VigieError as exc:
            return "failed", str(exc) or type(exc).__name__
        except Exception as exc:
            where = traceback.extract_tb(exc.__traceback__)[-1]
            place = f"{os.path.basename(where.filename)}:{where.lineno}"
            return "failed", f"internal error ({type(exc).__name__} at {place}); see docs/jobs.md"

    def _outcome(self, job: Job, outcome: tuple[str, Any]) -> None:
        what, value = outcome
        try:
            with self.sessions.begin() as session:
                if what == "done":
                    queue.finish(session, job_id=job.id, worker_id=self.worker_id, result=value)
                elif what == "failed":
                    queue.fail(session, job_id=job.id, worker_id=self.worker_id, error=value)
                if what in ("done", "failed"):
                    metrics.child(metrics.JOBS_FINISHED, job.kind, what).inc()
                elif what == "cancelled":
                    queue.acknowledge_cancel(session, job_id=job.id, worker_id=self.worker_id)
                elif what == "released":
                    queue.release(session, job_id=job.id, worker_id=self.worker_id)
                else:
                    raise LeaseLost(job.id)
        except LeaseLost:
            log.warning("job %s: taken over by another worker; this run is abandoned", job.id)
            return
        if what == "failed":
            log.error("job %s (%s): failed: %s", job.id, job.kind, value)
        else:
            log.info("job %s (%s): %s", job.id, job.kind, what)

    def _report(
        self, job_id: int, flags: _Flags, phase: str, done: int | None, total: int | None
    ) -> None:
        if flags.lost:
            raise LeaseLost(job_id)
        with self.sessions.begin() as session:
            cancel = queue.beat(
                session, job_id=job_id, worker_id=self.worker_id, progress=(phase, done, total)
            )
        if cancel or flags.cancel:
            raise Cancelled(job_id)
        if self.stopping.is_set():
            raise Interrupted(job_id)

    def _heartbeat(self, job_id: int, flags: _Flags, ended: threading.Event) -> None:
        while not ended.wait(self.settings.jobs_heartbeat_seconds):
            try:
                with self.sessions.begin() as session:
                    flags.cancel = queue.beat(session, job_id=job_id, worker_id=self.worker_id)
            except LeaseLost:
                flags.lost = True
                return
            except SQLAlchemyError as exc:  # the next beat may get through
                log.warning("job %s: heartbeat not written (%s)", job_id, type(exc).__name__)

    def _anchor(self, job: Job) -> None:
        checkpointer = Checkpointer(
            sessions=self.sessions, signing_key=self.secrets.signing_key, every_events=1
        )
        try:
            checkpointer.maybe_checkpoint()
        except (VigieError, SQLAlchemyError) as exc:
            log.error(
                "job %s: its audit events are not anchored (%s); run `vigie audit checkpoint`",
                job.id,
                type(exc).__name__,
            )

    def close(self) -> None:
        """Release the database connections."""
        if self.reader is not self.engine:
            self.reader.dispose()
        if self._own_engine:
            self.engine.dispose()


@contextmanager
def stop_on_signals(worker: Worker) -> Iterator[None]:
    """Within the block, SIGTERM or SIGINT stops ``worker`` gracefully and a second one
    ends the process; the previous handlers are restored after it."""

    def handle(signum: int, _frame: FrameType | None) -> None:
        if worker.stopping.is_set():
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        log.info("stopping: the running job, if any, goes back to the queue")
        worker.stop()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
