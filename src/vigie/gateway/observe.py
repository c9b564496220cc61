"""What the gateway tells the detectors about each request, and how detectors answer.

Two moments, neither inside a disclosure's lock:

- :meth:`AccessObserver.admit`, inside the request's unit of work after its look-up and
  before its charge (so before its processor's lock): an observer that wants the caller
  stopped now (a throttle already in place) raises :class:`vigie.errors.BudgetExceeded`
  (or ``Denied``); nothing is disclosed. A failed look-up is answered 404 before it.
- :meth:`AccessObserver.observe`, once the request has committed, in a transaction of its
  own, before the answer leaves (:func:`vigie.gateway.disclose.show`): the gateway builds
  one :class:`Access` per request and every observer records it and decides (streaming).
  What it decides (an alert, a throttle, a suspension) applies from the next request. If
  it raises ``Denied`` or fails, the answer is withheld (fail closed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from vigie.store.raw import Call


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


@dataclass(frozen=True)
class Admission:
    """An observer's ``admit`` as one statement the gateway sends with the request's
    charge (in its round trip on PostgreSQL, :func:`vigie.gateway.budget.settle`), and
    the verdict on its rows: raise to refuse (the charge then rolls back with the rest).
    An observer offers it through an ``admission(*, processor_id, key_id, at)`` method;
    the gateway then calls that instead of ``admit``."""

    call: Call
    verdict: Callable[[list[tuple[Any, ...]]], None]


class AccessObserver(Protocol):
    """Something that watches gateway requests (a detector pipeline)."""

    def admit(self, session: Session, *, processor_id: int, key_id: int, at: datetime) -> None:
        """Before the request's charge: raise ``Denied`` to refuse it."""

    def observe(self, session: Session, access: Access) -> None:
        """Look at one committed request; raise ``Denied`` to withhold its answer."""
