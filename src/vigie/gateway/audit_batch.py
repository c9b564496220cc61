"""The audit events of a group commit, chained together at its end.

On SQLite the requests that arrive together run one after the other in one transaction
(:mod:`vigie.gateway.unit`). Chaining each request's audit event as it goes costs, per
request, a read of the chain head, its update and the served index's statements; chained
together at the end of the group, those run once for all (an event costs about half).
Nothing else changes: the events are appended in the requests' order, in the same
transaction as their disclosures, before its commit, and no answer leaves before that
commit. If the append fails, the transaction rolls back and each request runs again
alone, appending its own event (fail closed).

:func:`gather` opens the batch on a session; :func:`vigie.gateway.disclose` hands each
event to :func:`take` (which declines when no batch is open: a request alone appends at
once); :func:`settle` appends them all and gives each request's outcome its sequence
number.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from vigie.audit import trail

if TYPE_CHECKING:
    from vigie.gateway.disclose import Disclosure

_KEY = "vigie.gateway.audit_batch"


def gather(session: Session) -> None:
    """From now on, the audit events of ``session``'s requests wait for :func:`settle`."""
    session.info[_KEY] = []


def take(session: Session, event: trail.NewEvent) -> bool:
    """Keep ``event`` for the group's append if a batch is open on ``session``."""
    events: list[trail.NewEvent] | None = session.info.get(_KEY)
    if events is None:
        return False
    events.append(event)
    return True


def settle(session: Session, results: Sequence[Disclosure]) -> list[Disclosure]:
    """Append the waiting events in one go and close the batch; return ``results`` (one
    event each, in order) with their sequence numbers. Raises as the trail does
    (:class:`vigie.errors.AuditFailure`): the caller's transaction is then rolled back."""
    events: list[trail.NewEvent] = session.info.pop(_KEY)
    if len(events) != len(results):
        raise AssertionError(f"{len(events)} audit events for {len(results)} requests")
    seqs = trail.append_many(session, events)
    return [
        dataclasses.replace(
            result,
            audit_seq=seq,
            access=None
            if result.access is None
            else dataclasses.replace(result.access, audit_seq=seq),
        )
        for result, seq in zip(results, seqs, strict=True)
    ]
