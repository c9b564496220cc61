"""Tables of vigie.public: the messages the self-check sent, the disclosure reports asked.

- ``public_messages``: one row per message a self-check sent to a contact on file: to
  whom (the person's id and a keyed hash of the contact, never the contact), for which
  incident (none for "you were not affected"), the look-up tag of the verification code
  it carries, and when. It caps the messages per contact per day and lets the public
  verification confirm the codes these messages carry.
- ``public_report_requests``: one row per disclosure report ("who saw my file?") asked:
  whose report (the person's id), how it went (``email`` or ``sms``: a link to the
  contact on file; ``letter``: the report printed to the postal address on file), the
  tag of the contact it was asked with (never the contact; none when the DPO printed it
  on a request by post), in which language, for a link the SHA-256 of its secret (never
  the secret) and until when it works, and when it was sent and opened (a letter is
  opened when printed). A link opens once; ``vigie requests list`` shows the rows.
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


class ReportRequest(Base):
    """Person ``subject_id``'s disclosure report, as a link to their contact on file or a letter."""

    __tablename__ = "public_report_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(8))  # email | sms | letter
    contact_tag: Mapped[str | None] = mapped_column(String(32))  # none: asked by post
    lang: Mapped[str] = mapped_column(String(8))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)  # links only
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_public_report_requests_contact", "contact_tag", "requested_at"),)
