"""Tables of vigie.fingerprint: the contact points of canaries.

A canary is a synthetic person flagged ``subjects.is_canary``; the e-mail addresses and
phone numbers it has ever had (current and superseded versions) are listed here,
normalised (e-mail lower-cased, phone in E.164), so a message reaching one of them can
be traced back to the canary — and from it to the processors that received it.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, Integer, String
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
