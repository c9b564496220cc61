"""The job queue on the store: enqueue, claim, heartbeat, finish, cancel, reap.

Every function takes a session and leaves the commit to the caller, so one transaction
holds one step. The worker's steps are conditional on the job being ``running`` under
its own ``worker_id``: a worker that lost its job (it stalled past the stale bound and
another worker took the job over) finds nothing to update and raises :class:`LeaseLost`
instead of overwriting the new run.

Claiming is safe under concurrency on both databases with one statement,
``UPDATE jobs SET state = 'running' … WHERE id = (SELECT id … WHERE state = 'queued'
ORDER BY id LIMIT 1 [FOR UPDATE SKIP LOCKED]) AND state = 'queued' RETURNING id``:
on PostgreSQL the sub-select skips rows another claimer has locked, and the outer
``state = 'queued'`` is re-checked on the locked row; on SQLite every Vigie transaction
takes the write lock at ``BEGIN IMMEDIATE`` (:mod:`vigie.store.engine`), so claimers run
one after another.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from vigie.errors import InvalidInput, NotFound
from vigie.jobs.models import FINAL, Job, JobState
from vigie.store.base import utcnow

MAX_PHASE = 100
MAX_ERROR = 500
_Scalar = int | str | bool | None


class LeaseLost(BaseException):
    """The job is no longer this worker's (it was reaped and re-queued, or finished)."""


def _plain(value: Any) -> bool:
    if isinstance(value, list):
        return all(isinstance(v, _Scalar) for v in value)
    return isinstance(value, _Scalar)


def _check(params: dict[str, Any]) -> None:
    for name, value in params.items():
        if not _plain(value):
            raise InvalidInput(
                f"job parameter {name!r}: only ids, paths and flags (or lists of them)"
            )


def push(
    session: Session,
    *,
    kind: str,
    params: dict[str, Any],
    actor: str,
    now: datetime | None = None,
) -> None:
    """Queue a job as :func:`enqueue` does, with one ``INSERT`` and no ORM object: for a
    request path that queues on every request (the public service) and needs no id."""
    _check(params)
    session.execute(
        insert(Job).values(
            kind=kind,
            params=params,
            actor=actor,
            state=JobState.QUEUED.value,
            created_at=now or utcnow(),
            attempts=0,
        )
    )


def job_row(
    *, kind: str, params: dict[str, Any], actor: str, now: datetime | None = None
) -> dict[str, Any]:
    """The values of one queued job, for :func:`push_rows` (checked as :func:`push` does)."""
    _check(params)
    return {
        "kind": kind,
        "params": params,
        "actor": actor,
        "state": JobState.QUEUED.value,
        "created_at": now or utcnow(),
        "attempts": 0,
    }


def push_rows(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Queue many jobs in one ``INSERT`` (executemany): the public service's group commit
    of the requests that arrived together (:mod:`vigie.public.group_commit`)."""
    if rows:
        session.execute(insert(Job), list(rows))


def enqueue(
    session: Session,
    *,
    kind: str,
    params: dict[str, Any],
    actor: str,
    now: datetime | None = None,
) -> Job:
    """Queue a job of ``kind``; ``params`` are ids, paths and flags only (flat JSON)."""
    _check(params)
    job = Job(
        kind=kind, params=params, actor=actor, state=JobState.QUEUED, created_at=now or utcnow()
    )
    session.add(job)
    session.flush()
    return job


def claim(session: Session, *, worker_id: str, now: datetime | None = None) -> Job | None:
    """Take the oldest queued job for ``worker_id`` (None when the queue is empty)."""
    now = now or utcnow()
    oldest = (
        select(Job.id)
        .where(Job.state == JobState.QUEUED)
        .order_by(Job.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    job_id = session.execute(
        update(Job)
        .where(Job.id == oldest, Job.state == JobState.QUEUED)
        .values(
            state=JobState.RUNNING,
            worker_id=worker_id,
            started_at=now,
            heartbeat_at=now,
            attempts=Job.attempts + 1,
            phase=None,
            done=None,
            total=None,
            progress_at=None,
        )
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if job_id is None:
        return None
    job = session.get(Job, job_id, populate_existing=True)
    assert job is not None
    return job


def _mine(job_id: int, worker_id: str) -> Any:
    return update(Job).where(
        Job.id == job_id, Job.worker_id == worker_id, Job.state == JobState.RUNNING
    )


def beat(
    session: Session,
    *,
    job_id: int,
    worker_id: str,
    progress: tuple[str, int | None, int | None] | None = None,
    now: datetime | None = None,
) -> bool:
    """Refresh the job's heartbeat (and its progress, if given).

    Returns whether an operator asked to cancel it; raises :class:`LeaseLost` when the job
    is no longer running under ``worker_id``.
    """
    now = now or utcnow()
    values: dict[str, Any] = {"heartbeat_at": now}
    if progress is not None:
        phase, done, total = progress
        values.update(phase=phase[:MAX_PHASE], done=done, total=total, progress_at=now)
    row = session.execute(
        _mine(job_id, worker_id)
        .values(**values)
        .returning(Job.cancel_requested_at)
        .execution_options(synchronize_session=False)
    ).first()
    if row is None:
        raise LeaseLost(job_id)
    return row[0] is not None


def _end(session: Session, job_id: int, worker_id: str, values: dict[str, Any]) -> None:
    row = session.execute(
        _mine(job_id, worker_id)
        .values(**values)
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    ).first()
    if row is None:
        raise LeaseLost(job_id)


def finish(
    session: Session,
    *,
    job_id: int,
    worker_id: str,
    result: dict[str, Any],
    now: datetime | None = None,
) -> None:
    """Mark the job done with its ``result`` (ids, paths and counts)."""
    values = {"state": JobState.DONE, "result": result, "finished_at": now or utcnow()}
    _end(session, job_id, worker_id, values)


def fail(
    session: Session, *, job_id: int, worker_id: str, error: str, now: datetime | None = None
) -> None:
    """Mark the job failed with ``error`` (a message free of personal data)."""
    values = {"state": JobState.FAILED, "error": error[:MAX_ERROR], "finished_at": now or utcnow()}
    _end(session, job_id, worker_id, values)


def acknowledge_cancel(
    session: Session, *, job_id: int, worker_id: str, now: datetime | None = None
) -> None:
    """The worker stopped the job its operator cancelled: mark it cancelled."""
    _end(session, job_id, worker_id, {"state": JobState.CANCELLED, "finished_at": now or utcnow()})


def release(session: Session, *, job_id: int, worker_id: str) -> None:
    """Put the job back in the queue (its worker is stopping); the run does not count."""
    values = {
        "state": JobState.QUEUED,
        "worker_id": None,
        "heartbeat_at": None,
        "attempts": Job.attempts - 1,
    }
    _end(session, job_id, worker_id, values)


def cancel(session: Session, *, job_id: int, actor: str, now: datetime | None = None) -> Job:
    """Cancel a job: a queued one at once, a running one at its next progress report.

    Audited (``job:cancel``, the job's id and kind) in the caller's transaction. Raises
    :class:`NotFound` for an unknown id and :class:`InvalidInput` for a job that already
    ended.
    """
    from vigie.audit import trail
    from vigie.audit.actions import Action

    now = now or utcnow()
    job = session.get(Job, job_id, with_for_update=True, populate_existing=True)
    if job is None:
        raise NotFound(f"no job {job_id}")
    if job.state in FINAL:
        raise InvalidInput(f"job {job_id} is already {job.state}")
    was = job.state
    if job.state == JobState.QUEUED:
        job.state = JobState.CANCELLED
        job.finished_at = now
    job.cancel_requested_at = job.cancel_requested_at or now
    session.flush()
    trail.append(
        session,
        action=Action.JOB_CANCEL,
        actor=actor,
        detail={"job_id": job.id, "kind": job.kind, "was": str(was)},
    )
    return job


def reap(
    session: Session,
    *,
    stale_after: float,
    max_attempts: int,
    now: datetime | None = None,
) -> dict[int, str]:
    """Recover the running jobs whose heartbeat is older than ``stale_after`` seconds.

    Their worker died: each is queued again while it has had fewer than ``max_attempts``
    runs, failed after that, and cancelled if an operator had asked. Returns each
    recovered job's new state by id.
    """
    now = now or utcnow()
    stale = (Job.state == JobState.RUNNING, Job.heartbeat_at < now - timedelta(seconds=stale_after))
    changed: dict[int, str] = {}
    steps: list[tuple[Any, dict[str, Any]]] = [
        (Job.cancel_requested_at.is_not(None), {"state": JobState.CANCELLED, "finished_at": now}),
        (
            Job.attempts >= max_attempts,
            {
                "state": JobState.FAILED,
                "finished_at": now,
                "error": f"its worker stopped answering {max_attempts} time(s); not retried",
            },
        ),
        (Job.attempts < max_attempts, {"state": JobState.QUEUED, "worker_id": None}),
    ]
    for condition, values in steps:
        rows = session.execute(
            update(Job)
            .where(*stale, condition)
            .values(**values)
            .returning(Job.id)
            .execution_options(synchronize_session=False)
        ).all()
        changed.update({int(r[0]): str(values["state"]) for r in rows})
    return changed


def has_queued(session: Session) -> bool:
    """Whether a job waits for a worker (an index probe: idle polls take no write lock)."""
    found = session.execute(select(Job.id).where(Job.state == JobState.QUEUED).limit(1))
    return found.first() is not None


def pending_by_kind(session: Session) -> dict[str, int]:
    """How many jobs of each kind wait or run (an index range: the few unfinished jobs)."""
    unfinished = (JobState.QUEUED, JobState.RUNNING)
    rows = session.execute(
        select(Job.kind, func.count()).where(Job.state.in_(unfinished)).group_by(Job.kind)
    )
    return {str(kind): int(n) for kind, n in rows}


def has_stale(session: Session, *, stale_after: float, now: datetime | None = None) -> bool:
    """Whether a running job's heartbeat is older than ``stale_after`` s (its worker died)."""
    cutoff = (now or utcnow()) - timedelta(seconds=stale_after)
    found = session.execute(
        select(Job.id).where(Job.state == JobState.RUNNING, Job.heartbeat_at < cutoff).limit(1)
    )
    return found.first() is not None


def get_job(session: Session, *, job_id: int) -> Job:
    """The job ``job_id`` as stored now; :class:`NotFound` if there is none."""
    job = session.get(Job, job_id, populate_existing=True)
    if job is None:
        raise NotFound(f"no job {job_id}")
    return job


def list_jobs(
    session: Session, *, state: JobState | None = None, kind: str | None = None, limit: int = 50
) -> Sequence[Job]:
    """The newest jobs first, optionally of one state or kind."""
    query = select(Job).order_by(Job.id.desc()).limit(limit)
    if state is not None:
        query = query.where(Job.state == state)
    if kind is not None:
        query = query.where(Job.kind == kind)
    return session.scalars(query).all()


def queue_depth(session: Session) -> dict[str, int]:
    """How many jobs are in each state (every state present, zeros included)."""
    counts = dict.fromkeys((s.value for s in JobState), 0)
    for state, n in session.execute(select(Job.state, func.count()).group_by(Job.state)):
        counts[str(state)] = int(n)
    return counts


def job_dict(job: Job) -> dict[str, Any]:
    """A job as plain JSON-ready values (for ``--json`` and pages)."""

    def at(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "id": job.id,
        "kind": job.kind,
        "state": job.state,
        "actor": job.actor,
        "params": job.params,
        "progress": {
            "phase": job.phase,
            "done": job.done,
            "total": job.total,
            "updated_at": at(job.progress_at),
        },
        "result": job.result,
        "error": job.error,
        "attempts": job.attempts,
        "worker_id": job.worker_id,
        "created_at": at(job.created_at),
        "started_at": at(job.started_at),
        "finished_at": at(job.finished_at),
        "heartbeat_at": at(job.heartbeat_at),
        "cancel_requested_at": at(job.cancel_requested_at),
    }
