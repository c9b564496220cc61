"""Tables of vigie.gateway: the disclosure ledger, the request-rate window, write-backs.

The ledger counts *distinct people* disclosed to each processor, across all its keys:

- ``gateway_ledger`` keeps, per processor and person, the last day that person was
  disclosed (``last_day``). A person disclosed again the same day costs nothing.
- ``gateway_days`` keeps, per processor and day, how many people have that day as their
  last day. Every disclosed person sits in exactly one bucket, so "distinct people today"
  is today's bucket and "distinct people over 30 days" is the sum of the last 30 buckets:
  two indexed reads, whatever the volume.
- ``gateway_rates`` holds one row per processor: the current one-minute window and its
  request count. Every request of a processor updates this row **last** (one atomic
  counter update, :func:`vigie.gateway.budget.settle`), which locks it until commit and
  so serialises the ledger update of that processor, and of that processor only, across
  hosts and workers (SQLite transactions are already exclusive, ``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from vigie.store.base import Base, UTCDateTime


class LedgerEntry(Base):
    """Person ``subject_id`` was last disclosed to ``processor_id`` on ``last_day``."""

    __tablename__ = "gateway_ledger"

    processor_id: Mapped[int] = mapped_column(
        ForeignKey("processors.id", ondelete="CASCADE"), primary_key=True
    )
    subject_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_day: Mapped[date] = mapped_column(Date)

    __table_args__ = (Index("ix_gateway_ledger_processor_day", "processor_id", "last_day"),)


class DayCount(Base):
    """How many people disclosed to ``processor_id`` have ``day`` as their last day."""

    __tablename__ = "gateway_days"

    processor_id: Mapped[int] = mapped_column(
        ForeignKey("processors.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    people: Mapped[int] = mapped_column(Integer)


class RateWindow(Base):
    """Requests of ``processor_id`` in the one-minute window starting at ``window_start``."""

    __tablename__ = "gateway_rates"

    processor_id: Mapped[int] = mapped_column(
        ForeignKey("processors.id", ondelete="CASCADE"), primary_key=True
    )
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    requests: Mapped[int] = mapped_column(Integer)


class SubjectEvent(Base):
    """A write-back from a processor about one person (e.g. course attendance)."""

    __tablename__ = "subject_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    processor_id: Mapped[int] = mapped_column(ForeignKey("processors.id", ondelete="CASCADE"))
    key_id: Mapped[int] = mapped_column(Integer)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"))
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(40))
    values: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (Index("ix_subject_events_subject", "subject_id"),)
