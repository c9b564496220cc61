"""Tables of vigie.detection: the state detectors share across workers, and the alerts.

Everything a detector needs to remember lives here, in the database, so that N gateway
workers on N hosts see the same counts (no per-process memory):

- ``detection_windows``: per processor, one row per hour and one per day, with the
  figures the detectors read (requests, distinct people, people never read before,
  canaries, listed people, failed look-ups, expired assignments, audit sequence range).
  Incremented with ``value = value + n`` updates, so concurrent workers lose nothing.
- ``detection_seen``: which people each processor has ever received, first and last time
  (drives "distinct today", "distinct this hour" and "never read before").
- ``detection_keys`` / ``detection_origins``: which keys and which networks a processor
  has used, first and last time.
- ``detection_state``: per processor, when the statistical detectors last ran.
- ``detection_throttles``: a key (or a whole processor) refused until a time.
- ``canary_trips``: every reported contact with a canary (the canary's id, not the contact).
- ``alerts``: every alert with its evidence and the containment applied.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vigie.store.base import Base, UTCDateTime


class ActivityWindow(Base):
    """What one processor did during one hour or one day (UTC), as counts."""

    __tablename__ = "detection_windows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    processor_id: Mapped[int] = mapped_column(ForeignKey("processors.id", ondelete="CASCADE"))
    span: Mapped[str] = mapped_column(String(4))  # "hour" or "day"
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    requests: Mapped[int] = mapped_column(Integer, default=0)
    people: Mapped[int] = mapped_column(Integer, default=0)  # distinct people in the window
    fresh: Mapped[int] = mapped_column(Integer, default=0)  # people never disclosed before
    canaries: Mapped[int] = mapped_column(Integer, default=0)  # distinct canaries
    listed: Mapped[int] = mapped_column(Integer, default=0)  # people disclosed by list pages
    not_found: Mapped[int] = mapped_column(Integer, default=0)  # failed look-ups
    expired: Mapped[int] = mapped_column(Integer, default=0)  # expired-assignment requests
    cursor_max: Mapped[int] = mapped_column(Integer, default=0)  # furthest list-walk position
    first_seq: Mapped[int | None] = mapped_column(BigInteger)  # audit sequence range
    last_seq: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        Index("uq_detection_windows_key", "processor_id", "span", "start", unique=True),
    )


class Seen(Base):
    """Person ``subject_id`` was disclosed to processor ``processor_id``: first and last time."""

    __tablename__ = "detection_seen"

    processor_id: Mapped[int] = mapped_column(
        ForeignKey("processors.id", ondelete="CASCADE"), primary_key=True
    )
    subject_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_at: Mapped[datetime] = mapped_column(UTCDateTime())


class KeyActivity(Base):
    """An API key of a processor was used: first and last time."""

    __tablename__ = "detection_keys"

    processor_id: Mapped[int] = mapped_column(
        ForeignKey("processors.id", ondelete="CASCADE"), primary_key=True
    )
    key_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Origin(Base):
    """A network (IPv4 /24, IPv6 /48) a processor called from: first and last time."""

    __tablename__ = "detection_origins"

    processor_id: Mapped[int] = mapped_column(
        ForeignKey("processors.id", ondelete="CASCADE"), primary_key=True
    )
    network: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DetectorState(Base):
    """When the statistical detectors last ran for a processor, and on what."""

    __tablename__ = "detection_state"

    processor_id: Mapped[int] = mapped_column(
        ForeignKey("processors.id", ondelete="CASCADE"), primary_key=True
    )
    evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    people_at_eval: Mapped[int] = mapped_column(Integer, default=0)  # day count then


class Throttle(Base):
    """Requests of a key (``key_id`` set) or of a whole processor refused until ``until``."""

    __tablename__ = "detection_throttles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    processor_id: Mapped[int] = mapped_column(ForeignKey("processors.id", ondelete="CASCADE"))
    key_id: Mapped[int | None] = mapped_column(Integer)
    until: Mapped[datetime] = mapped_column(UTCDateTime())
    alert_id: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (Index("ix_detection_throttles_processor", "processor_id", "until"),)


class CanaryTrip(Base):
    """Someone contacted a canary: the contact used, where it was seen, the alert raised."""

    __tablename__ = "canary_trips"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(8))  # "email" or "phone"
    source: Mapped[str | None] = mapped_column(String(200))  # who reported it
    processor_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    alert_ids: Mapped[list[int]] = mapped_column(JSON, default=list)


class Alert(Base):
    """A detector's alert: what tripped it, the evidence, and what containment was applied."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime())
    detector: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(8))  # low | medium | high | critical
    processor_id: Mapped[int | None] = mapped_column(
        ForeignKey("processors.id", ondelete="SET NULL")
    )
    key_id: Mapped[int | None] = mapped_column(Integer)
    summary: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # ids and counts
    containment: Mapped[str] = mapped_column(String(20))  # what was done, see containment
    dedupe: Mapped[str | None] = mapped_column(String(120))  # one alert per detector window
    audit_seq: Mapped[int | None] = mapped_column(BigInteger)  # the alert:raise event
    incident_id: Mapped[int | None] = mapped_column(Integer)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    notify_error: Mapped[str | None] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))  # the audit actor

    __table_args__ = (
        Index("ix_alerts_raised_at", "raised_at"),
        Index("ix_alerts_processor", "processor_id"),
        Index("uq_alerts_dedupe", "dedupe", unique=True),
    )
