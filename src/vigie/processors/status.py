"""Suspending and reinstating processors and keys (containment), always with a reason.

Each change is a conditional ``UPDATE`` (the atomic test-and-set), so when several
workers suspend at once exactly one succeeds and one event is audited.

Suspension is immediate: :func:`vigie.processors.keys.authenticate` refuses every key of
a suspended processor, and a suspended key, from the next request on. Suspending what is
already suspended changes nothing and returns ``False`` (detection may suspend twice);
reinstating needs a reason and something suspended. The reason is kept in the audit
event (it is the operator's words about the processor, never a person's data).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Result, update
from sqlalchemy.orm import Session

from vigie.audit import trail
from vigie.audit.actions import Action
from vigie.errors import InvalidInput, NotFound
from vigie.processors.directory import get_processor
from vigie.processors.models import ApiKey, Processor
from vigie.store.base import utcnow

MAX_REASON = 500


def _reason(reason: str) -> str:
    cleaned = " ".join((reason or "").split())
    if not cleaned:
        raise InvalidInput("a reason is required")
    if len(cleaned) > MAX_REASON:
        raise InvalidInput(f"the reason is longer than {MAX_REASON} characters")
    return cleaned


def _changed(result: Result[Any]) -> bool:
    # A conditional UPDATE is the atomic test-and-set: under concurrent workers exactly
    # one of them changes the row (PostgreSQL re-checks the condition after the row
    # lock; SQLite writers are serialised), so exactly one suspension is audited.
    return bool(cast("CursorResult[Any]", result).rowcount)


def suspend_processor(
    session: Session, *, name: str, reason: str, actor: str, now: datetime | None = None
) -> bool:
    """Suspend processor ``name`` (audited); ``False`` if it already was."""
    reason = _reason(reason)
    processor = get_processor(session, name=name)
    done = session.execute(
        update(Processor)
        .where(Processor.id == processor.id, Processor.suspended_at.is_(None))
        .values(suspended_at=now or utcnow(), suspended_reason=reason)
    )
    if not _changed(done):
        return False
    trail.append(
        session,
        action=Action.PROCESSOR_SUSPEND,
        actor=actor,
        processor_id=processor.id,
        detail={"reason": reason},
    )
    return True


def reinstate_processor(session: Session, *, name: str, reason: str, actor: str) -> None:
    """Lift the suspension of processor ``name`` (audited); the reason is mandatory."""
    reason = _reason(reason)
    processor = get_processor(session, name=name)
    done = session.execute(
        update(Processor)
        .where(Processor.id == processor.id, Processor.suspended_at.is_not(None))
        .values(suspended_at=None, suspended_reason=None)
    )
    if not _changed(done):
        raise InvalidInput(f"processor {name!r} is not suspended")
    trail.append(
        session,
        action=Action.PROCESSOR_REINSTATE,
        actor=actor,
        processor_id=processor.id,
        detail={"reason": reason},
    )


def suspend_key(
    session: Session, *, key_id: int, reason: str, actor: str, now: datetime | None = None
) -> bool:
    """Suspend API key ``key_id`` (audited); ``False`` if it already was."""
    reason = _reason(reason)
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"no API key with id {key_id}")
    done = session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.suspended_at.is_(None))
        .values(suspended_at=now or utcnow(), suspended_reason=reason)
    )
    if not _changed(done):
        return False
    trail.append(
        session,
        action=Action.KEY_SUSPEND,
        actor=actor,
        processor_id=key.processor_id,
        key_id=key.id,
        detail={"reason": reason},
    )
    return True
