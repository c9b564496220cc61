"""Raising alerts: record, contain, audit, and open or update the incident.

:func:`raise_alert` is the one way an alert comes to be — from a detector of the
pipeline, a canary trip, or another domain. In the caller's unit of work it

1. stores the alert with its evidence (ids, counts, the audit sequence range — never a
   person's values);
2. applies the containment its severity calls for (:mod:`~vigie.detection.containment`);
3. appends an ``alert:raise`` event to the audit trail;
4. attaches the alert as evidence to the processor's open incident, or opens one
   (severity medium and above; a low alert only joins an incident already open).

Notification (e-mail, webhook) happens after commit, see :mod:`~vigie.detection.notify`.
An operator then acknowledges the alert (:func:`acknowledge_alert`, audited), or
escalates it by hand (:func:`escalate_alert`, audited): a low alert opens no incident on
its own, and an operator who judges it a breach attaches it to one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from vigie.audit import trail
from vigie.audit.actions import Action
from vigie.breach import incidents
from vigie.detection.containment import DEFAULT_THROTTLE, Containment, contain
from vigie.detection.findings import Severity
from vigie.detection.models import Alert
from vigie.errors import InvalidInput, NotFound
from vigie.ops import metrics
from vigie.processors.models import Processor
from vigie.store.base import utcnow

MAX_SUMMARY = 300
_SUSPENDED = {
    Containment.SUSPEND_KEY.value: "key",
    Containment.SUSPEND_PROCESSOR.value: "processor",
}


def _incident(
    session: Session,
    *,
    alert: Alert,
    actor: str,
    evidence: dict[str, Any],
    by_hand: datetime | None = None,
) -> int | None:
    """Join the processor's open incident, or open one (medium and above, or ``by_hand``:
    an operator's escalation at that time, which starts the incident's clock)."""
    if alert.processor_id is None and by_hand is None:
        return None
    open_one = (
        incidents.find_open_incident(session, processor_id=alert.processor_id)
        if alert.processor_id is not None
        else None
    )
    detail = {
        "alert_id": alert.id,
        "detector": alert.detector,
        "severity": alert.severity,
        "containment": alert.containment,
        **evidence,
    }
    if open_one is not None:
        incidents.add_evidence(
            session,
            incident_id=open_one.id,
            kind="alert",
            ref=f"alert:{alert.id}",
            detail=detail,
            actor=actor,
        )
        return open_one.id
    if Severity(alert.severity) is Severity.LOW and by_hand is None:
        return None
    processor = session.get(Processor, alert.processor_id) if alert.processor_id else None
    name = processor.name if processor else f"processor {alert.processor_id}"
    title = (
        f"Suspected extraction through {name} ({alert.detector})"
        if alert.processor_id is not None
        else f"Alert #{alert.id} escalated ({alert.detector})"
    )
    incident = incidents.open_incident(
        session,
        title=title,
        source="canary" if alert.detector == "canary-trip" else "alert",
        aware_at=by_hand or alert.raised_at,
        actor=actor,
        processor_id=alert.processor_id,
        summary=alert.summary,
        evidence={"ref": f"alert:{alert.id}", **detail},
    )
    return incident.id


def raise_alert(
    session: Session,
    *,
    detector: str,
    severity: Severity,
    processor_id: int | None,
    key_id: int | None,
    summary: str,
    evidence: Mapping[str, Any],
    actor: str = "system:detection",
    now: datetime | None = None,
    dedupe: str | None = None,
    throttle_for: timedelta = DEFAULT_THROTTLE,
) -> Alert:
    """Record an alert, contain, audit it and link it to an incident; return the alert.

    ``evidence`` holds ids and counts only (JSON values). ``now`` is the time of the
    request that tripped it (default: the wall clock). ``dedupe`` names the window the
    alert is about; the pipeline checks it with :func:`already_raised` first.
    """
    if not summary.strip():
        raise InvalidInput("an alert needs a summary")
    severity = Severity(severity)
    at = now or utcnow()
    alert = Alert(
        raised_at=at,
        detector=detector,
        severity=severity.value,
        processor_id=processor_id,
        key_id=key_id,
        summary=summary.strip()[:MAX_SUMMARY],
        evidence=dict(evidence),
        containment="pending",
        dedupe=dedupe,
    )
    session.add(alert)
    session.flush()
    alert.containment = contain(
        session, alert=alert, actor=actor, now=at, throttle_for=throttle_for
    ).value
    metrics.DETECTOR_FIRINGS.labels(detector, severity.value, alert.containment).inc()
    if alert.containment in _SUSPENDED:
        metrics.SUSPENSIONS.labels(_SUSPENDED[alert.containment]).inc()
    alert.audit_seq = trail.append(
        session,
        action=Action.ALERT_RAISE,
        actor=actor,
        processor_id=processor_id,
        key_id=key_id,
        outcome=severity.value,
        detail={
            "alert_id": alert.id,
            "detector": detector,
            "containment": alert.containment,
            **dict(evidence),
        },
        at=at,
    )
    alert.incident_id = _incident(session, alert=alert, actor=actor, evidence=dict(evidence))
    session.flush()
    return alert


def already_raised(session: Session, *, dedupe: str) -> bool:
    """Whether an alert for this detector window exists."""
    return session.scalar(select(Alert.id).where(Alert.dedupe == dedupe)) is not None


def list_alerts(
    session: Session,
    *,
    processor_id: int | None = None,
    min_severity: Severity | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[Alert]:
    """Alerts, newest first, filtered by processor, lowest severity and time."""
    stmt = select(Alert).order_by(Alert.id.desc()).limit(limit)
    if processor_id is not None:
        stmt = stmt.where(Alert.processor_id == processor_id)
    if min_severity is not None:
        wanted = [s.value for s in Severity if s.rank >= Severity(min_severity).rank]
        stmt = stmt.where(Alert.severity.in_(wanted))
    if since is not None:
        stmt = stmt.where(Alert.raised_at >= since)
    return list(session.scalars(stmt))


MAX_NOTE = 500


def acknowledge_alert(
    session: Session, *, alert_id: int, actor: str, note: str = "", now: datetime | None = None
) -> Alert:
    """Mark alert ``alert_id`` acknowledged by ``actor`` (audited); once only.

    Acknowledging changes no containment: a suspended key stays suspended until an
    operator reinstates it.
    """
    cleaned = " ".join(note.split())
    if len(cleaned) > MAX_NOTE:
        raise InvalidInput(f"the note is longer than {MAX_NOTE} characters")
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"no alert #{alert_id}")
    done = session.execute(
        update(Alert)
        .where(Alert.id == alert_id, Alert.acknowledged_at.is_(None))
        .values(acknowledged_at=now or utcnow(), acknowledged_by=actor)
    )
    if not cast("CursorResult[Any]", done).rowcount:
        raise InvalidInput(f"alert #{alert_id} is already acknowledged")
    detail: dict[str, Any] = {"alert_id": alert_id}
    if cleaned:
        detail["note"] = cleaned
    trail.append(
        session,
        action=Action.ALERT_ACKNOWLEDGE,
        actor=actor,
        processor_id=alert.processor_id,
        key_id=alert.key_id,
        detail=detail,
    )
    session.refresh(alert)
    return alert


MAX_REASON = 500


def escalate_alert(
    session: Session, *, alert_id: int, actor: str, reason: str, now: datetime | None = None
) -> Alert:
    """Attach alert ``alert_id`` to an incident by hand (audited); return the alert.

    The alert joins its processor's open incident, or opens one whose 72-hour clock
    starts ``now`` (the operator's judgement that this is a breach is the awareness).
    Refused without a reason, for an unknown alert, and for an alert already attached to
    an incident (it names that incident). ``alert:escalate`` records the actor and the
    reason; the incident's own events follow, in the caller's unit of work.
    """
    cleaned = " ".join(reason.split())
    if not cleaned:
        raise InvalidInput("escalating an alert needs a reason")
    if len(cleaned) > MAX_REASON:
        raise InvalidInput(f"the reason is longer than {MAX_REASON} characters")
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"no alert #{alert_id}")
    if alert.incident_id is not None:
        raise InvalidInput(f"alert #{alert_id} is already attached to incident {alert.incident_id}")
    at = now or utcnow()
    trail.append(
        session,
        action=Action.ALERT_ESCALATE,
        actor=actor,
        processor_id=alert.processor_id,
        key_id=alert.key_id,
        detail={"alert_id": alert_id, "reason": cleaned},
        at=at,
    )
    incident_id = _incident(
        session,
        alert=alert,
        actor=actor,
        evidence={"escalated_by": actor, "reason": cleaned},
        by_hand=at,
    )
    # Compare-and-set: of two operators escalating at once, the second fails (and its
    # unit of work, incident included, is rolled back).
    done = session.execute(
        update(Alert)
        .where(Alert.id == alert_id, Alert.incident_id.is_(None))
        .values(incident_id=incident_id)
    )
    if not cast("CursorResult[Any]", done).rowcount:
        raise InvalidInput(f"alert #{alert_id} is already attached to an incident")
    session.refresh(alert)
    return alert


def alert_dict(alert: Alert, *, processor: str | None = None) -> dict[str, Any]:
    """An alert as plain JSON data (ids, counts, names of processors — no personal data)."""
    return {
        "id": alert.id,
        "raised_at": alert.raised_at.isoformat(),
        "detector": alert.detector,
        "severity": alert.severity,
        "processor_id": alert.processor_id,
        "processor": processor,
        "key_id": alert.key_id,
        "summary": alert.summary,
        "containment": alert.containment,
        "incident_id": alert.incident_id,
        "audit_seq": alert.audit_seq,
        "evidence": alert.evidence,
        "notified_at": alert.notified_at.isoformat() if alert.notified_at else None,
        "acknowledged_at": alert.acknowledged_at.isoformat() if alert.acknowledged_at else None,
        "acknowledged_by": alert.acknowledged_by,
    }
