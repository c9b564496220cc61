"""What the writer's and the transaction's tests share: a processor, and its rate rows
written through the driver cursor and read back through a session of their own."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from vigie.gateway.models import RateWindow
from vigie.processors.models import Processor
from vigie.store import raw
from vigie.store.base import UTCDateTime

WHEN = datetime(2026, 3, 2, 12, 34, tzinfo=UTC)
INSERT_RATE = raw.Statement(
    "INSERT INTO gateway_rates (processor_id, window_start, requests) VALUES (?, ?, ?)",
    params=(None, UTCDateTime()),
)


def a_processor(sessions: sessionmaker[Session]) -> int:
    """A processor committed on its own; its id."""
    with sessions.begin() as s:
        p = Processor(
            name="p",
            legal_name="P SAS (fictitious)",
            siren="732100003",
            contact_email="dpo@p.example",
            security_officer="Claire Martin",
        )
        s.add(p)
        s.flush()
        return p.id


def rates(sessions: sessionmaker[Session]) -> list[int]:
    """The committed rate rows' request counts, in order."""
    with sessions() as s:
        return list(s.scalars(select(RateWindow.requests).order_by(RateWindow.requests)))
