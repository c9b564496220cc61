"""What the gateway tells the detectors about each request, and how detectors answer.

The gateway builds one :class:`Access` per request once it knows what it would disclose,
and hands it to every registered :class:`AccessObserver` inside the request's unit of
work, *before* the response leaves. An observer that wants the request stopped (an
inline hard rule, or a containment already decided) raises :class:`vigie.errors.Denied`
(or :class:`vigie.errors.BudgetExceeded` to throttle); the gateway then discloses
nothing. Statistical detectors record what they need and decide later (streaming).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Access:
    """One gateway request, as the detectors see it. No personal values, only ids."""

    at: datetime
    processor_id: int
    key_id: int
    origin: str | None  # client IP address
    kind: str  # "read", "list", "write"
    subject_ids: Sequence[int] = ()  # people the response would disclose
    fields: Sequence[str] = ()
    status: int = 200  # HTTP status the gateway is about to answer
    not_found: bool = False  # asked for a pseudonym that is unknown or out of scope
    expired_assignment: bool = False  # asked for a person whose assignment has ended
    cursor_position: int | None = None  # how far a list walk has gone (internal order)
    page_size: int | None = None
    audit_seq: int | None = None  # sequence number of the request's audit event
    extra: dict[str, object] = field(default_factory=dict)


class AccessObserver(Protocol):
    """Something that watches gateway requests (a detector pipeline)."""

    def observe(self, session: Session, access: Access) -> None:
        """Look at one request; raise ``Denied`` to stop it before the response leaves."""
