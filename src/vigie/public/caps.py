"""The daily cap on messages to one contact, counted in the store.

Every message the public service sends to a contact on file leaves a row keyed by the
contact's tag (``public_messages`` for self-checks, ``public_report_requests`` for report
links). The cap (``public_messages_per_contact``, a ``limits`` rate string such as
``3/day``) is checked against those rows, so it holds across workers and restarts, and
whichever the kind of message.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from limits import RateLimitItem, parse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vigie.public.limiter import RateLimited
from vigie.public.models import PublicMessage, ReportRequest
from vigie.settings import Settings


def per_contact(settings: Settings) -> RateLimitItem:
    """The cap of the settings."""
    return parse(settings.public_messages_per_contact)


def sent_since(session: Session, *, tag: str, since: datetime) -> int:
    """How many messages went to the contact of ``tag`` since ``since``."""
    self_checks = session.scalar(
        select(func.count())
        .select_from(PublicMessage)
        .where(PublicMessage.contact_tag == tag, PublicMessage.sent_at >= since)
    )
    links = session.scalar(
        select(func.count())
        .select_from(ReportRequest)
        .where(
            ReportRequest.contact_tag == tag,
            ReportRequest.requested_at >= since,
            ReportRequest.sent_at.is_not(None),
        )
    )
    return int(self_checks or 0) + int(links or 0)


def check(session: Session, *, tag: str, cap: RateLimitItem, now: datetime) -> None:
    """Raise :class:`RateLimited` when the contact of ``tag`` got ``cap`` messages already."""
    window = timedelta(seconds=cap.get_expiry())
    if sent_since(session, tag=tag, since=now - window) >= cap.amount:
        raise RateLimited(
            "this contact got its messages for now", retry_after=int(window.total_seconds())
        )
