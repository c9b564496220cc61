"""Tables of vigie.fingerprint: the contact points of canaries, the pseudonym rotations.

A canary is a synthetic person flagged ``subjects.is_canary``; the e-mail addresses and
phone numbers it has ever had (current and superseded versions) are listed here,
normalised (e-mail lower-cased, phone in E.164), so a message reaching one of them can
be traced back to the canary — and from it to the processors that received it.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vigie.store.base import Base


class CanaryContact(Base):
    """One e-mail address or phone number of a canary."""

    __tablename__ = "canary_contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(5))  # "email" or "phone"
    value: Mapped[str] = mapped_column(String(254))  # normalised

    __table_args__ = (
        Index("ix_canary_contacts_value", "value"),
        Index("ix_canary_contacts_subject", "subject_id"),
    )


class PseudonymRotation(Base):
    """A rotation of one processor's pseudonym key, and the one fetch of its mapping.

    ``vigie secrets rotate pseudonyms --processor NAME`` records it; the processor fetches
    the mapping old → new pseudonyms once (``GET /api/v1/pseudonyms/rotation``), which sets
    ``fetched_us`` and ``fetched_key_id``: a second fetch is refused.
    """

    __tablename__ = "pseudonym_rotations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    processor_id: Mapped[int] = mapped_column(ForeignKey("processors.id", ondelete="CASCADE"))
    from_version: Mapped[int] = mapped_column(Integer)
    to_version: Mapped[int] = mapped_column(Integer)
    rotated_us: Mapped[int] = mapped_column(BigInteger)
    fetched_us: Mapped[int | None] = mapped_column(BigInteger)
    fetched_key_id: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_pseudonym_rotations_processor", "processor_id"),
        UniqueConstraint("processor_id", "to_version", name="uq_pseudonym_rotations_version"),
    )
