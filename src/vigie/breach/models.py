"""Tables of vigie.breach: incidents, their evidence, timeline, exposures and deliveries.

- ``incidents``: one personal-data breach (or suspicion of one), its 72-hour clock
  (``aware_at``), the processor involved, the risk assessment and Art. 34 decision, the
  processor's own Art. 33(2) duty, and the register's facts / effects / remedial action.
- ``incident_evidence``: what the incident rests on (audit ranges, leak reports, alerts,
  canary trips), ids and counts only.
- ``incident_events``: the timeline — every decision, with who and when.
- ``incident_exposures``: per affected person, the field names that were exposed.
- ``authority_notifications``: the phases of the Art. 33 notification (initial, then
  complementary under Art. 33(4)), each with a snapshot of what was submitted.
- ``notice_deliveries``: the delivery log that makes sending notices idempotent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vigie.store.base import Base, UTCDateTime


class Incident(Base):
    """A personal-data breach, or the suspicion of one, and the response to it."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16))  # leak | alert | canary | manual
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | closed
    processor_id: Mapped[int | None] = mapped_column(
        ForeignKey("processors.id", ondelete="SET NULL")
    )
    aware_at: Mapped[datetime] = mapped_column(UTCDateTime())  # starts the 72-hour clock
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    summary: Mapped[str] = mapped_column(Text, default="")
    # Art. 33(5) register: facts, effects, remedial action (free text, no personal values).
    effects: Mapped[str] = mapped_column(Text, default="")
    remedial_action: Mapped[str] = mapped_column(Text, default="")
    delay_reason: Mapped[str | None] = mapped_column(Text)  # why notified after 72 h
    # Risk assessment (see vigie.breach.risk), recorded with its reasoning.
    risk: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Art. 33(2): when and how the processor informed the controller, or that it did not.
    processor_informed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    processor_informed_how: Mapped[str | None] = mapped_column(String(200))
    processor_duty_note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_incidents_processor_status", "processor_id", "status"),)


class IncidentEvidence(Base):
    """One piece of evidence: an audit range, a leak report, an alert, a canary trip."""

    __tablename__ = "incident_evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))  # audit_range | leak_report | alert | ...
    ref: Mapped[str] = mapped_column(String(200))  # e.g. "seq:120-4410", "alert:7"
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(120))

    __table_args__ = (Index("ix_incident_evidence_incident", "incident_id"),)


class IncidentEvent(Base):
    """One entry of an incident's timeline: a decision, a notification, a measure."""

    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(32))  # open | evidence | exposure | risk | ...
    actor: Mapped[str] = mapped_column(String(120))
    summary: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    audit_seq: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (Index("ix_incident_events_incident", "incident_id"),)


class IncidentExposure(Base):
    """Person ``subject_id`` had ``fields`` exposed in incident ``incident_id``."""

    __tablename__ = "incident_exposures"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    subject_id: Mapped[int] = mapped_column(
        ForeignKey("subjects.id", ondelete="CASCADE"), primary_key=True
    )
    fields: Mapped[list[str]] = mapped_column(JSON)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuthorityNotification(Base):
    """One phase of the Art. 33 notification to the supervisory authority."""

    __tablename__ = "authority_notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    phase: Mapped[int] = mapped_column(Integer)  # 1 = initial, 2+ = complementary
    prepared_at: Mapped[datetime] = mapped_column(UTCDateTime())
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    authority_ref: Mapped[str | None] = mapped_column(String(100))
    content: Mapped[dict[str, Any]] = mapped_column(JSON)  # the pack as prepared

    __table_args__ = (
        Index("uq_authority_notifications_incident_phase", "incident_id", "phase", unique=True),
    )


class NoticeDelivery(Base):
    """The delivery log: one row per (incident, person, channel), claimed before sending.

    ``status``: ``sending`` (claimed; the point of no return not reached), ``sent``,
    ``failed`` (retryable), ``bounced``, ``no_contact`` (listed for the public notice).
    """

    __tablename__ = "notice_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(8))  # email | sms | letter
    status: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(35))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    detail: Mapped[str | None] = mapped_column(String(300))
    # The look-up tag of the notice's verification code (vigie.breach.codes.code_tag), so
    # the public service finds a notice from its code alone.
    code_tag: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (
        Index("ix_notice_deliveries_code_tag", "code_tag"),
        Index("uq_notice_deliveries_key", "incident_id", "subject_id", "channel", unique=True),
        Index("ix_notice_deliveries_status", "incident_id", "status"),
    )
