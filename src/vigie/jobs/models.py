"""Tables of vigie.jobs: the queue of background work (one row per job) and its schedule.

A job carries ids and paths only (``params``), never a personal value in clear (the
public service's jobs carry the contact sealed: :func:`vigie.public.contacts.seal_contact`);
its ``result`` holds ids, paths and counts, and ``error`` a message Vigie wrote (or only
the exception's class name: a library's message may quote a leaked value). See
:mod:`vigie.jobs.queue`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vigie.store.base import Base, UTCDateTime


class JobState(StrEnum):
    """Where a job is in its life."""

    QUEUED = "queued"
    """Waiting for a worker (new, or put back after its worker stopped or died)."""
    RUNNING = "running"
    """Claimed by a worker, which keeps its heartbeat fresh."""
    DONE = "done"
    """Finished; ``result`` holds what it produced."""
    FAILED = "failed"
    """Stopped by an error, or its workers died ``jobs_max_attempts`` times."""
    CANCELLED = "cancelled"
    """Cancelled by an operator before it finished."""


FINAL = frozenset({JobState.DONE, JobState.FAILED, JobState.CANCELLED})


class Job(Base):
    """One piece of background work and everything known about its run."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default=JobState.QUEUED.value)
    actor: Mapped[str] = mapped_column(String(200))
    # Progress: the phase being run, and how far into it (both counts optional).
    phase: Mapped[str | None] = mapped_column(String(100))
    done: Mapped[int | None] = mapped_column(BigInteger)
    total: Mapped[int | None] = mapped_column(BigInteger)
    progress_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker_id: Mapped[str | None] = mapped_column(String(100))

    __table_args__ = (
        CheckConstraint(
            "state IN ('queued', 'running', 'done', 'failed', 'cancelled')", name="state"
        ),
        Index("ix_jobs_state_id", "state", "id"),
    )


class JobSchedule(Base):
    """When a periodic job is next due, and the job that last ran it (:mod:`vigie.jobs.schedule`).

    The row is the lease: a worker enqueues a due job only by moving ``next_due_at``
    forward with a compare-and-set on its old value, so of several workers that find it
    due at once exactly one enqueues it.
    """

    __tablename__ = "job_schedules"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_job_id: Mapped[int | None] = mapped_column(Integer)
    last_enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    enqueued_by: Mapped[str | None] = mapped_column(String(100))
