"""Tables of vigie.requirements.

- ``requirement_versions``: every version of every requirement ever applied (the
  baseline is the latest version of each); never updated, never deleted, so a dossier
  can say which version was in force on a given day.
- ``attestations``: a processor's signed statement that it meets an *attested*
  requirement, with the SHA-256 of its evidence document and an expiry.
- ``inspections``: the controller's own audits of a processor (*checked* requirements),
  their findings and the findings' deadlines.
- ``requirement_actions``: what enforcement did about one requirement version for one
  processor (a warning, a consequence applied, a consequence lifted) — makes enforcement
  idempotent.
- ``campaigns`` and ``campaign_notices``: a raise of the baseline for every processor,
  who was notified when, who acknowledged.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vigie.store.base import Base, UTCDateTime


class RequirementVersion(Base):
    """One version of one requirement, as applied from the requirements file."""

    __tablename__ = "requirement_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    requirement: Mapped[str] = mapped_column(String(64))  # the stable id, e.g. key-allow-list
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # enforced | attested | checked
    check: Mapped[str] = mapped_column(String(64))  # what is checked (see checks.py)
    text_fr: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    deadline: Mapped[date] = mapped_column(Date)
    consequence: Mapped[str] = mapped_column(String(32))
    reduce_budget_to: Mapped[float | None] = mapped_column(Float)  # with reduce_budget
    clauses: Mapped[list[str]] = mapped_column(JSON)  # contract clauses it rests on
    content_sha256: Mapped[str] = mapped_column(String(64))  # recorded in the trail
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime())
    audit_seq: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("uq_requirement_versions", "requirement", "version", unique=True),)


class Attestation(Base):
    """A processor's statement that it meets an attested requirement, with evidence."""

    __tablename__ = "attestations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    processor_id: Mapped[int] = mapped_column(ForeignKey("processors.id", ondelete="CASCADE"))
    requirement: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    statement: Mapped[str] = mapped_column(Text)  # the processor's words
    document_sha256: Mapped[str] = mapped_column(String(64))
    document_bytes: Mapped[int] = mapped_column(Integer)
    document_name: Mapped[str] = mapped_column(String(200))  # the stored file's name
    expires_on: Mapped[date] = mapped_column(Date)
    signature: Mapped[str | None] = mapped_column(String(128))  # Ed25519, hex; API only
    submitted_by: Mapped[str] = mapped_column(String(200))  # the audit actor
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    audit_seq: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_attestations_processor", "processor_id", "requirement"),)


class Inspection(Base):
    """An on-site or document audit of a processor by the controller."""

    __tablename__ = "inspections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    processor_id: Mapped[int] = mapped_column(ForeignKey("processors.id", ondelete="CASCADE"))
    held_on: Mapped[date] = mapped_column(Date)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # text, deadline, closed
    findings_sha256: Mapped[str] = mapped_column(String(64))
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    audit_seq: Mapped[int] = mapped_column(Integer)


class RequirementAction(Base):
    """What enforcement did for one requirement version and one processor."""

    __tablename__ = "requirement_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    processor_id: Mapped[int] = mapped_column(ForeignKey("processors.id", ondelete="CASCADE"))
    requirement: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))  # warn | <consequence> | lift
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    audit_seq: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_requirement_actions", "processor_id", "requirement", "version"),)


class Campaign(Base):
    """A raise of the baseline for every processor at once."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(String(100))
    file_sha256: Mapped[str] = mapped_column(String(64))
    requirements: Mapped[list[str]] = mapped_column(JSON)  # "id@version" raised by it
    deadline: Mapped[date] = mapped_column(Date)  # the earliest deadline it sets
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_by: Mapped[str] = mapped_column(String(200))
    standing_before: Mapped[dict[str, Any]] = mapped_column(JSON)  # for the trend
    audit_seq: Mapped[int] = mapped_column(Integer)


class CampaignNotice(Base):
    """A campaign's message to one processor, and its acknowledgement."""

    __tablename__ = "campaign_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    processor_id: Mapped[int] = mapped_column(ForeignKey("processors.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))  # pending | sent | failed
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (Index("uq_campaign_notices", "campaign_id", "processor_id", unique=True),)
