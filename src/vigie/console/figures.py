"""The figures the console's pages show, read from the summaries the store keeps.

Nothing here scans the audit trail or the registry: the people disclosed come from the
gateway's day buckets (:class:`~vigie.gateway.models.DayCount`), scope sizes from the
stored counts (:mod:`vigie.processors.counts`), the trail's size from its head row, the
last verification from the result of the last ``audit.verify`` job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from vigie.audit.models import AuditCheckpoint, AuditHead
from vigie.detection.models import ActivityWindow
from vigie.gateway.budget import WINDOW_DAYS
from vigie.gateway.models import DayCount
from vigie.jobs.models import Job, JobState
from vigie.jobs.tasks import AUDIT_VERIFY
from vigie.processors.models import Contract


@dataclass(frozen=True)
class Usage:
    """Distinct people disclosed to one processor, against its budgets."""

    today: int
    last_30_days: int
    budget_per_day: int
    budget_per_30_days: int


def usage(session: Session, *, on: date) -> dict[int, Usage]:
    """Each processor's people disclosed today and over 30 days, and its current budgets.

    The budgets are those of the contracts in force on ``on``, added up (as the gateway
    adds them).
    """
    since = on - timedelta(days=WINDOW_DAYS - 1)
    read = {
        pid: (int(today), int(month))
        for pid, today, month in session.execute(
            select(
                DayCount.processor_id,
                func.sum(case((DayCount.day == on, DayCount.people), else_=0)),
                func.sum(DayCount.people),
            )
            .where(DayCount.day >= since, DayCount.day <= on)
            .group_by(DayCount.processor_id)
        )
    }
    budgets = {
        pid: (int(day or 0), int(month or 0))
        for pid, day, month in session.execute(
            select(
                Contract.processor_id,
                func.sum(Contract.budget_per_day),
                func.sum(Contract.budget_per_30_days),
            )
            .where(
                Contract.valid_from <= on,
                Contract.valid_to.is_(None) | (Contract.valid_to >= on),
            )
            .group_by(Contract.processor_id)
        )
    }
    return {
        pid: Usage(
            today=read.get(pid, (0, 0))[0],
            last_30_days=read.get(pid, (0, 0))[1],
            budget_per_day=budgets.get(pid, (0, 0))[0],
            budget_per_30_days=budgets.get(pid, (0, 0))[1],
        )
        for pid in set(read) | set(budgets)
    }


@dataclass(frozen=True)
class AuditHealth:
    """How far the trail is anchored: its size, the last signed checkpoint."""

    events: int
    checkpoint_id: int | None
    checkpoint_size: int
    checkpoint_at: datetime | None

    @property
    def unanchored(self) -> int:
        """Events after the last checkpoint (its own event excluded)."""
        if self.checkpoint_id is None:
            return self.events
        return max(0, self.events - self.checkpoint_size - 1)


def audit_health(session: Session) -> AuditHealth:
    """The trail's size and its last checkpoint (two indexed reads)."""
    size = session.scalar(select(AuditHead.size).where(AuditHead.id == 1)) or 0
    last = session.scalar(select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(1))
    return AuditHealth(
        events=int(size),
        checkpoint_id=last.id if last else None,
        checkpoint_size=int(last.size) if last else 0,
        checkpoint_at=last.at if last else None,
    )


@dataclass(frozen=True)
class Verification:
    """The last verification of the whole trail run as a job: when, and its outcome."""

    job_id: int
    at: datetime | None
    ok: bool
    events: int
    error: str


def last_verification(session: Session) -> Verification | None:
    """The last ``audit.verify`` job that ended (passed or failed), if any."""
    job = session.scalar(
        select(Job)
        .where(Job.kind == AUDIT_VERIFY, Job.state.in_((JobState.DONE, JobState.FAILED)))
        .order_by(Job.id.desc())
        .limit(1)
    )
    if job is None:
        return None
    return Verification(
        job_id=job.id,
        at=job.finished_at,
        ok=job.state == JobState.DONE,
        events=int((job.result or {}).get("events", 0)),
        error=job.error or "",
    )


def checkpoints(session: Session, *, limit: int = 50) -> list[AuditCheckpoint]:
    """The latest signed checkpoints, newest first."""
    return list(
        session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(limit))
    )


@dataclass(frozen=True)
class DayActivity:
    """What one processor did on one day (UTC): requests, and distinct people disclosed."""

    day: date
    requests: int
    people: int


def daily_activity(
    session: Session, *, processor_id: int, on: date, days: int = WINDOW_DAYS
) -> list[DayActivity]:
    """The processor's last ``days`` days up to ``on``, oldest first (0 for a quiet day).

    From the detection pipeline's day windows (:class:`~vigie.detection.models.ActivityWindow`),
    whose ``people`` are the distinct people of that day (the gateway's day buckets move a
    person to the last day they were read, so they cannot say this).
    """
    since = on - timedelta(days=days - 1)
    start = datetime.combine(since, time.min, tzinfo=UTC)
    end = datetime.combine(on + timedelta(days=1), time.min, tzinfo=UTC)
    rows = session.execute(
        select(ActivityWindow.start, ActivityWindow.requests, ActivityWindow.people).where(
            ActivityWindow.processor_id == processor_id,
            ActivityWindow.span == "day",
            ActivityWindow.start >= start,
            ActivityWindow.start < end,
        )
    )
    found = {when.date(): (int(requests), int(people)) for when, requests, people in rows}
    out = []
    for i in range(days):
        day = since + timedelta(days=i)
        requests, people = found.get(day, (0, 0))
        out.append(DayActivity(day=day, requests=requests, people=people))
    return out
