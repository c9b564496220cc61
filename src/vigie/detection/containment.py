"""Containment by severity: alert only, throttle, suspend the key, suspend the processor.

==========  ==========================================================================
severity    containment
==========  ==========================================================================
low         alert only
medium      throttle: the key (or the processor, for an alert without a key) is
            refused for ``throttle_for`` (15 minutes, ``detection_throttle_minutes``)
high        suspend the key — or the processor when that would not stop the
            extraction: the alert names no key, another key of the processor was used
            within the last hour, or detection already suspended one of its keys in
            the last 24 hours (an attacker holding several keys)
critical    suspend the processor: every key at once, on every worker
==========  ==========================================================================

Suspension goes through :mod:`vigie.processors.status` (audited, visible in
``vigie processors list``) and is lifted only by a person, with a reason
(``vigie processors reinstate``). Throttles expire on their own.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vigie.detection.findings import Severity
from vigie.detection.models import Alert, KeyActivity, Throttle
from vigie.errors import BudgetExceeded
from vigie.gateway.observe import Admission
from vigie.processors import status
from vigie.processors.models import ApiKey, Processor
from vigie.store import raw
from vigie.store.base import UTCDateTime

DEFAULT_THROTTLE = timedelta(minutes=15)
ESCALATION_WINDOW = timedelta(hours=24)
OTHER_KEY_WINDOW = timedelta(hours=1)


class Containment(StrEnum):
    """What was done about an alert."""

    ALERT = "alert"
    """Nothing beyond the alert."""
    THROTTLE = "throttle"
    """The key (or processor) is refused until the throttle ends."""
    SUSPEND_KEY = "suspend_key"
    """The key is suspended until a person reinstates it."""
    SUSPEND_PROCESSOR = "suspend_processor"
    """The processor and all its keys are suspended until a person reinstates it."""
    ALREADY = "already_contained"
    """What this severity calls for was already in place."""


def _escalate(session: Session, *, alert: Alert, now: datetime) -> bool:
    if alert.key_id is None:
        return True
    others = session.scalar(
        select(func.count()).where(
            KeyActivity.processor_id == alert.processor_id,
            KeyActivity.key_id != alert.key_id,
            KeyActivity.last_at >= now - OTHER_KEY_WINDOW,
        )
    )
    if others:
        return True
    earlier = session.scalar(
        select(func.count()).where(
            Alert.processor_id == alert.processor_id,
            Alert.id != alert.id,
            Alert.containment == Containment.SUSPEND_KEY.value,
            Alert.raised_at >= now - ESCALATION_WINDOW,
        )
    )
    return bool(earlier)


def _reason(alert: Alert) -> str:
    return f"alert {alert.id} ({alert.detector}, {alert.severity}): {alert.summary}"


def _suspend_processor(session: Session, *, alert: Alert, actor: str, now: datetime) -> Containment:
    processor = session.get(Processor, alert.processor_id)
    if processor is None:
        return Containment.ALERT
    done = status.suspend_processor(
        session, name=processor.name, reason=_reason(alert), actor=actor, now=now
    )
    return Containment.SUSPEND_PROCESSOR if done else Containment.ALREADY


def contain(
    session: Session,
    *,
    alert: Alert,
    actor: str,
    now: datetime,
    throttle_for: timedelta = DEFAULT_THROTTLE,
) -> Containment:
    """Apply the containment ``alert``'s severity calls for; return what was done."""
    severity = Severity(alert.severity)
    if alert.processor_id is None or severity is Severity.LOW:
        return Containment.ALERT
    if severity is Severity.MEDIUM:
        session.add(
            Throttle(
                processor_id=alert.processor_id,
                key_id=alert.key_id,
                until=now + throttle_for,
                alert_id=alert.id,
            )
        )
        session.flush()
        return Containment.THROTTLE
    if severity is Severity.CRITICAL or _escalate(session, alert=alert, now=now):
        return _suspend_processor(session, alert=alert, actor=actor, now=now)
    assert alert.key_id is not None
    if session.get(ApiKey, alert.key_id) is None:
        return _suspend_processor(session, alert=alert, actor=actor, now=now)
    done = status.suspend_key(
        session, key_id=alert.key_id, reason=_reason(alert), actor=actor, now=now
    )
    return Containment.SUSPEND_KEY if done else Containment.ALREADY


# On the driver's cursor (every request checks it twice: before its charge and in its
# detection transaction, whose first statement it is: through ``together`` that
# transaction's BEGIN goes in the same round trip on PostgreSQL).
_THROTTLED = raw.Statement(
    f"SELECT MAX(until) FROM {Throttle.__tablename__} "
    "WHERE processor_id = ? AND until > ? AND (key_id = ? OR key_id IS NULL)",
    params=(None, UTCDateTime()),
    columns=(UTCDateTime(),),
)


def enforce_throttle(session: Session, *, processor_id: int, key_id: int, at: datetime) -> None:
    """Raise :class:`BudgetExceeded` if the key or its processor is throttled at ``at``."""
    check = throttle_admission(processor_id=processor_id, key_id=key_id, at=at)
    check.verdict(raw.cursor(session).together([check.call])[0])


def throttle_admission(*, processor_id: int, key_id: int, at: datetime) -> Admission:
    """The throttle check as a statement the gateway sends with the request's charge, and
    its verdict (raises :class:`BudgetExceeded` if the key or processor is throttled)."""

    def verdict(rows: list[tuple[Any, ...]]) -> None:
        ((until,),) = rows
        if until is not None:
            raise throttled(until=until, at=at)

    return Admission((_THROTTLED, (processor_id, at, key_id)), verdict)


def throttled(*, until: datetime, at: datetime) -> BudgetExceeded:
    """The refusal of a request at ``at`` from a key throttled until ``until``."""
    wait = max(1, int((until - at).total_seconds()) + 1)
    return BudgetExceeded(
        f"requests from this key are throttled after unusual activity; retry in {wait} s",
        retry_after=wait,
    )
