"""Tables of vigie.public: the messages the self-check sent.

- ``public_messages``: one row per message a self-check sent to a contact on file: to
  whom (the person's id and a keyed hash of the contact, never the contact), for which
  incident (none for "you were not affected"), the look-up tag of the verification code
  it carries, and when. It caps the messages per contact per day and lets the public
  verification confirm the codes these messages carry.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from vigie.store.base import Base, UTCDateTime


class PublicMessage(Base):
    """A message a self-check sent to the contact on file of person ``subject_id``."""

    __tablename__ = "public_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(8))  # email | sms
    contact_tag: Mapped[str] = mapped_column(String(32))
    code_tag: Mapped[str | None] = mapped_column(String(32))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_public_messages_code_tag", "code_tag"),
        Index("ix_public_messages_contact", "contact_tag", "sent_at"),
    )
