"""Data subjects of the CIR case, their version history, and the population context.

``subjects`` holds each person's *current* version (what the gateway serves);
``subject_versions`` holds every superseded version with its validity interval
``[valid_from, valid_to)``, so a leaked value can be dated. The full history of a person
is their superseded versions plus the current one (valid from ``valid_from``, open-ended).
``registry_populations`` holds every declaration of the registry's population context
(:mod:`vigie.registry.population`); the newest is in force.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from vigie.store.base import Base, UTCDateTime

# The personal fields of a subject, in a stable order. Policy (which fields a purpose may
# read), exports, leak typing and notices all speak these names.
SUBJECT_FIELDS: tuple[str, ...] = (
    "ref",
    "given_name",
    "family_name",
    "given_name_native",
    "family_name_native",
    "birth_date",
    "sex",
    "birth_country",
    "nationality",
    "preferred_language",
    "email",
    "phone",
    "address_line",
    "postal_code",
    "city",
    "region",
    "entry_date",
    "residence_reason",
    "residence_status",
    "cir_signed_on",
    "course_hours",
    "course_level",
)
# Fields whose change makes a new version (``ref`` is stable and never changes).
VERSIONED_FIELDS: tuple[str, ...] = SUBJECT_FIELDS[1:]


class _SubjectData:
    """The personal columns shared by the current row and the history rows."""

    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    given_name_native: Mapped[str | None] = mapped_column(String(100))
    family_name_native: Mapped[str | None] = mapped_column(String(100))
    birth_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(1))  # "F", "M" or "X"
    birth_country: Mapped[str] = mapped_column(String(3))  # ISO 3166-1 alpha-3
    nationality: Mapped[str] = mapped_column(String(3))  # ISO 3166-1 alpha-3
    preferred_language: Mapped[str] = mapped_column(String(35))  # BCP 47
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(16))  # E.164
    address_line: Mapped[str] = mapped_column(String(200))
    postal_code: Mapped[str] = mapped_column(String(5))
    city: Mapped[str] = mapped_column(String(100))
    region: Mapped[str] = mapped_column(String(3))  # INSEE region code, e.g. "11"
    entry_date: Mapped[date] = mapped_column(Date)
    residence_reason: Mapped[str] = mapped_column(String(30))
    residence_status: Mapped[str] = mapped_column(String(40))
    cir_signed_on: Mapped[date | None] = mapped_column(Date)
    course_hours: Mapped[int] = mapped_column(SmallInteger)
    course_level: Mapped[str] = mapped_column(String(4))  # CEFR target, e.g. "A1"


class Subject(_SubjectData, Base):
    """A person in the controller's registry, as they are now."""

    __tablename__ = "subjects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(32), unique=True)
    is_canary: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_subjects_email", "email"),
        Index("ix_subjects_phone", "phone"),
        Index("ix_subjects_region", "region"),
        # The latest change, read by the leak-triage snapshot's fingerprint.
        Index("ix_subjects_valid_from", "valid_from"),
    )


class SubjectVersion(_SubjectData, Base):
    """A superseded version of a person, valid over ``[valid_from, valid_to)``."""

    __tablename__ = "subject_versions"

    subject_id: Mapped[int] = mapped_column(
        ForeignKey("subjects.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_to: Mapped[datetime] = mapped_column(UTCDateTime())


class RegistryPopulation(Base):
    """One declaration of the registry's population context (the newest is in force)."""

    __tablename__ = "registry_populations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    membership_reveals: Mapped[str | None] = mapped_column(Text)
    vulnerable: Mapped[bool] = mapped_column(Boolean)
    vulnerable_why: Mapped[str | None] = mapped_column(Text)
    special_categories: Mapped[list[str]] = mapped_column(JSON)
    audit_seq: Mapped[int] = mapped_column(BigInteger)  # its ``registry:population`` event
