"""Processors, contracts, assignments and API keys.

A processor's *scope* is the set of its current assignments and nothing else: a person
is visible to a processor only through an assignment under one of its contracts whose
dates include today.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vigie.store.base import Base, UTCDateTime


class Processor(Base):
    """A subcontractor (GDPR processor) that receives people's data."""

    __tablename__ = "processors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)  # short, stable handle
    legal_name: Mapped[str] = mapped_column(String(200))
    siren: Mapped[str] = mapped_column(String(9))
    contact_email: Mapped[str] = mapped_column(String(254))
    security_officer: Mapped[str] = mapped_column(String(200))
    # How to reach the processor's security team at any hour (a phone line, a SOC).
    security_contact_247: Mapped[str | None] = mapped_column(String(200))
    region: Mapped[str | None] = mapped_column(String(3))
    # Ed25519 public key (64 hex) that signs the processor's attestations (requirements).
    statement_key: Mapped[str | None] = mapped_column(String(64))
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    suspended_reason: Mapped[str | None] = mapped_column(Text)
    # Set while an unmet requirement refuses new keys (vigie.requirements.enforce): the
    # reason names the requirement; vigie.processors.keys.issue_key refuses while set.
    new_keys_refused: Mapped[str | None] = mapped_column(Text)


class Contract(Base):
    """An Art. 28 contract: one purpose, its fields and masks, its budget."""

    __tablename__ = "contracts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    processor_id: Mapped[int] = mapped_column(ForeignKey("processors.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))  # unique per processor
    purpose: Mapped[str] = mapped_column(String(100))
    legal_basis: Mapped[str] = mapped_column(String(200))
    reference: Mapped[str] = mapped_column(String(100))  # Art. 28 contract reference
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    read_fields: Mapped[list[str]] = mapped_column(JSON)
    masks: Mapped[dict[str, str]] = mapped_column(JSON)  # field -> mask name
    write_fields: Mapped[list[str]] = mapped_column(JSON)
    budget_per_day: Mapped[int] = mapped_column(Integer)  # distinct people
    budget_per_30_days: Mapped[int] = mapped_column(Integer)  # distinct people
    expected_per_day: Mapped[int | None] = mapped_column(Integer)  # declared normal volume
    rate_per_minute: Mapped[int] = mapped_column(Integer)  # requests
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (Index("uq_contracts_processor_name", "processor_id", "name", unique=True),)


class Assignment(Base):
    """Person ``subject_id`` is in the scope of ``contract_id`` over ``[starts_on, ends_on]``.

    Both dates are inclusive; an open ``ends_on`` runs on (see vigie.processors.scope).
    """

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"))
    processor_id: Mapped[int] = mapped_column(ForeignKey("processors.id", ondelete="CASCADE"))
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)

    __table_args__ = (
        # Covering index of the scope queries (vigie.processors.scope): one range scan
        # per page, in subject order, with no visit to the table.
        Index(
            "ix_assignments_scope",
            "processor_id",
            "subject_id",
            "contract_id",
            "starts_on",
            "ends_on",
        ),
        Index("ix_assignments_subject", "subject_id"),
    )


class ScopeCount(Base):
    """How many people are in a processor's scope, kept so that reading it costs nothing.

    ``size`` holds for every day from ``counted_on`` to the day before ``good_until`` (the
    next day an assignment or a contract of the processor starts or ends; open when
    none is due). Rewritten in the transaction of every change to the processor's
    assignments or contracts (see vigie.processors.counts).
    """

    __tablename__ = "scope_counts"

    processor_id: Mapped[int] = mapped_column(
        ForeignKey("processors.id", ondelete="CASCADE"), primary_key=True
    )
    size: Mapped[int] = mapped_column(Integer)
    counted_on: Mapped[date] = mapped_column(Date)
    good_until: Mapped[date | None] = mapped_column(Date)
    counted_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApiKey(Base):
    """A processor's API key, stored only as a hash of the secret part."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    processor_id: Mapped[int] = mapped_column(ForeignKey("processors.id", ondelete="CASCADE"))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)  # public lookup part
    secret_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 hex of the secret part
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    allowed_cidrs: Mapped[list[str]] = mapped_column(JSON, default=list)
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    suspended_reason: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(String(200))
