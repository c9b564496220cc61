"""Suspending and reinstating processors and keys (containment), always with a reason.

Suspension is immediate: :func:`vigie.processors.keys.authenticate` refuses every key of
a suspended processor, and a suspended key, from the next request on. Suspending what is
already suspended changes nothing and returns ``False`` (detection may suspend twice);
reinstating needs a reason and something suspended. The reason is kept in the audit
event (it is the operator's words about the processor, never a person's data).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from vigie.audit import trail
from vigie.audit.actions import Action
from vigie.errors import InvalidInput, NotFound
from vigie.processors.directory import get_processor
from vigie.processors.models import ApiKey
from vigie.store.base import utcnow

MAX_REASON = 500


def _reason(reason: str) -> str:
    cleaned = " ".join((reason or "").split())
    if not cleaned:
        raise InvalidInput("a reason is required")
    if len(cleaned) > MAX_REASON:
        raise InvalidInput(f"the reason is longer than {MAX_REASON} characters")
    return cleaned


def suspend_processor(
    session: Session, *, name: str, reason: str, actor: str, now: datetime | None = None
) -> bool:
    """Suspend processor ``name`` (audited); ``False`` if it already was."""
    reason = _reason(reason)
    processor = get_processor(session, name=name)
    if processor.suspended_at is not None:
        return False
    processor.suspended_at = now or utcnow()
    processor.suspended_reason = reason
    session.flush()
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
    if processor.suspended_at is None:
        raise InvalidInput(f"processor {name!r} is not suspended")
    processor.suspended_at = None
    processor.suspended_reason = None
    session.flush()
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
    if key.suspended_at is not None:
        return False
    key.suspended_at = now or utcnow()
    key.suspended_reason = reason
    session.flush()
    trail.append(
        session,
        action=Action.KEY_SUSPEND,
        actor=actor,
        processor_id=key.processor_id,
        key_id=key.id,
        detail={"reason": reason},
    )
    return True
