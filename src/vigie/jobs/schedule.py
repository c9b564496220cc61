"""The schedule: periodic jobs, declared in one table, queued by whichever worker is first.

:data:`SCHEDULE` lists every periodic job with the setting that gives its interval
(seconds; 0 turns it off). Every worker calls :func:`enqueue_due` before it looks for a
job: it reads the ``job_schedules`` rows (a plain read while nothing is due), and for each
due one moves ``next_due_at`` forward with a compare-and-set on the value it read::

    UPDATE job_schedules SET next_due_at = :next, … WHERE name = :name AND next_due_at = :seen

Only the worker whose update changed the row enqueues the job, so with several workers,
on several hosts, a due job is queued exactly once per period; the queue then gives it
to exactly one worker (:func:`vigie.jobs.queue.claim`). A job still queued or running
from its last period is not queued again (the period is skipped, not piled up).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vigie.jobs import periodic
from vigie.jobs.models import FINAL, Job, JobSchedule
from vigie.jobs.queue import enqueue
from vigie.settings import Settings
from vigie.store.base import utcnow

ACTOR = "system:scheduler"


@dataclass(frozen=True)
class Periodic:
    """A periodic job: its schedule name, its job kind, and its interval from the settings."""

    name: str
    kind: str
    interval: Callable[[Settings], float]
    """Seconds between runs; 0 (or less) when it is off."""
    setting: str
    """The setting (environment variable) that gives the interval."""


SCHEDULE: tuple[Periodic, ...] = (
    Periodic(
        "retention", periodic.RETENTION_RUN,
        lambda s: s.schedule_retention_seconds, "VIGIE_SCHEDULE_RETENTION_SECONDS",
    ),
    Periodic(
        "siem-push", periodic.SIEM_PUSH,
        lambda s: s.schedule_siem_push_seconds if (s.siem_url or s.siem_webhook_url) else 0,
        "VIGIE_SCHEDULE_SIEM_PUSH_SECONDS",
    ),
    Periodic(
        "audit-checkpoint", periodic.AUDIT_CHECKPOINT,
        lambda s: s.audit_checkpoint_every_seconds if s.schedule_checkpoints else 0,
        "VIGIE_AUDIT_CHECKPOINT_EVERY_SECONDS",
    ),
    Periodic(
        "requirements-enforce", periodic.REQUIREMENTS_ENFORCE,
        lambda s: s.schedule_requirements_seconds, "VIGIE_SCHEDULE_REQUIREMENTS_SECONDS",
    ),
)  # fmt: skip


@dataclass(frozen=True)
class Entry:
    """One line of ``vigie jobs schedule``."""

    name: str
    kind: str
    every_seconds: float
    setting: str
    next_due_at: datetime | None
    last_job_id: int | None
    last_state: str | None
    enqueued_by: str | None


def _due(
    session: Session, settings: Settings, now: datetime, kinds: Collection[str]
) -> list[tuple[Periodic, JobSchedule | None]]:
    rows = {r.name: r for r in session.scalars(select(JobSchedule))}
    return [
        (p, rows.get(p.name))
        for p in SCHEDULE
        if p.kind in kinds
        and p.interval(settings) > 0
        and (p.name not in rows or rows[p.name].next_due_at <= now)
    ]


def anything_due(
    session: Session, *, settings: Settings, kinds: Collection[str], now: datetime | None = None
) -> bool:
    """Whether a periodic job of ``kinds`` is due (a plain read: what an idle worker asks)."""
    return bool(_due(session, settings, now or utcnow(), kinds))


def enqueue_due(
    session: Session,
    *,
    settings: Settings,
    worker_id: str,
    kinds: Collection[str],
    now: datetime | None = None,
) -> list[Job]:
    """Queue every due periodic job of ``kinds`` (those the worker can run) whose lease this
    worker wins; return them.

    In the caller's transaction. A schedule row seen for the first time is created due
    now; a concurrent creation by another worker makes this one lose (its savepoint is
    rolled back) and leave the job to the winner.
    """
    now = now or utcnow()
    queued: list[Job] = []
    for item, row in _due(session, settings, now, kinds):
        step = timedelta(seconds=item.interval(settings))
        if row is None:
            try:
                with session.begin_nested():
                    session.add(
                        JobSchedule(
                            name=item.name,
                            next_due_at=now + step,
                            last_enqueued_at=now,
                            enqueued_by=worker_id,
                        )
                    )
            except IntegrityError:
                continue  # another worker created it first: its job
        else:
            won = session.execute(
                update(JobSchedule)
                .where(JobSchedule.name == item.name, JobSchedule.next_due_at == row.next_due_at)
                .values(
                    next_due_at=_next(row.next_due_at, step, now),
                    last_enqueued_at=now,
                    enqueued_by=worker_id,
                )
                .execution_options(synchronize_session=False)
            )
            if getattr(won, "rowcount", 0) != 1:
                continue
            if row.last_job_id is not None:
                last = session.get(Job, row.last_job_id)
                if last is not None and last.state not in FINAL:
                    continue  # still queued or running: skip this period
        job = enqueue(session, kind=item.kind, params={}, actor=ACTOR, now=now)
        session.execute(
            update(JobSchedule)
            .where(JobSchedule.name == item.name)
            .values(last_job_id=job.id)
            .execution_options(synchronize_session=False)
        )
        queued.append(job)
    return queued


def _next(due: datetime, step: timedelta, now: datetime) -> datetime:
    """The first time after ``now`` in the series ``due + k × step``: periods missed while
    no worker ran are skipped, and the phase is kept (no drift by poll delays)."""
    missed = (now - due) // step
    return due + (missed + 1) * step


def entries(session: Session, *, settings: Settings) -> list[Entry]:
    """The schedule as ``vigie jobs schedule`` shows it."""
    rows = {r.name: r for r in session.scalars(select(JobSchedule))}
    out = []
    for item in SCHEDULE:
        row = rows.get(item.name)
        last = session.get(Job, row.last_job_id) if row and row.last_job_id else None
        out.append(
            Entry(
                name=item.name,
                kind=item.kind,
                every_seconds=max(0.0, item.interval(settings)),
                setting=item.setting,
                next_due_at=row.next_due_at if row else None,
                last_job_id=row.last_job_id if row else None,
                last_state=last.state if last else None,
                enqueued_by=row.enqueued_by if row else None,
            )
        )
    return out
