"""The tables of operations: how far each SIEM sink has received the audit trail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from vigie.store.base import Base, UTCDateTime


class SiemCursor(Base):
    """The last audit sequence number a SIEM sink acknowledged (the outbox's position).

    The outbox is the audit trail itself — durable, append-only, committed with what it
    records — and this row says where a sink stands in it: events after ``last_seq`` are
    still owed to the sink.
    """

    __tablename__ = "siem_cursors"

    sink: Mapped[str] = mapped_column(String(200), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
