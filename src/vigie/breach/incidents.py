"""Incidents: opening one, adding evidence and exposures, recording every decision.

Every change to an incident is written to its timeline (``incident_events``) and to the
audit trail in the caller's unit of work: ``incident:open`` when it is opened,
``incident:decide`` for evidence, exposures, risk, the processor's duty and other
decisions, ``incident:notify`` for notifications (see :mod:`vigie.breach.notify`).
The caller commits. No personal values are written anywhere here: ids, counts and field
names only. The exposures are evidence (the authority pack counts them, notices go to
them): their ``incident:decide`` event seals the buckets it changed
(:mod:`vigie.audit.seals`), after checking them against their last seal.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Text, cast, func, select
from sqlalchemy.orm import Session

from vigie.audit import trail
from vigie.audit.actions import Action
from vigie.audit.seals import EXPOSURES, Sealing
from vigie.breach.clock import Clock, SystemClock
from vigie.breach.models import Incident, IncidentEvent, IncidentEvidence, IncidentExposure
from vigie.errors import InvalidInput, NotFound

SOURCES = ("leak", "alert", "canary", "manual")
EXPOSURE_CHUNK = 5_000


def _clock(clock: Clock | None) -> Clock:
    return clock or SystemClock()


def _event(
    session: Session,
    incident: Incident,
    *,
    kind: str,
    action: Action,
    actor: str,
    summary: str,
    at: datetime,
    detail: Mapping[str, Any] | None = None,
    sealing: Sealing | None = None,
) -> IncidentEvent:
    """Audit one decision and put it on the incident's timeline (with ``sealing``'s seals
    in the audit event)."""
    payload = {"incident_id": incident.id, "decision": kind, **(detail or {})}
    append = trail.append if sealing is None else lambda _, **event: sealing.append(**event)
    seq = append(
        session,
        action=action,
        actor=actor,
        processor_id=incident.processor_id,
        detail=payload,
    )
    event = IncidentEvent(
        incident_id=incident.id,
        at=at,
        kind=kind,
        actor=actor,
        summary=summary,
        detail=dict(detail or {}),
        audit_seq=seq,
    )
    session.add(event)
    session.flush()
    return event


def open_incident(
    session: Session,
    *,
    title: str,
    source: str,
    aware_at: datetime,
    actor: str,
    processor_id: int | None = None,
    summary: str = "",
    evidence: Mapping[str, Any] | None = None,
    clock: Clock | None = None,
) -> Incident:
    """Open an incident; ``aware_at`` starts the 72-hour clock of Art. 33(1).

    ``evidence`` (ids and counts only), when given, becomes the first piece of evidence,
    of kind ``source`` and reference ``evidence["ref"]`` (or the source name).
    """
    if source not in SOURCES:
        raise InvalidInput(f"incident source must be one of {', '.join(SOURCES)}, not {source!r}")
    if not title.strip():
        raise InvalidInput("an incident needs a title")
    if aware_at.tzinfo is None:
        raise InvalidInput("aware_at must carry a timezone")
    now = _clock(clock).now()
    incident = Incident(
        title=title.strip(),
        source=source,
        status="open",
        processor_id=processor_id,
        aware_at=aware_at,
        opened_at=now,
        summary=summary,
        effects="",
        remedial_action="",
    )
    session.add(incident)
    session.flush()
    _event(
        session,
        incident,
        kind="open",
        action=Action.INCIDENT_OPEN,
        actor=actor,
        summary=f"opened from {source}",
        at=now,
        detail={"source": source, "aware_at": aware_at.isoformat()},
    )
    if evidence:
        add_evidence(
            session,
            incident_id=incident.id,
            kind=source,
            ref=str(evidence.get("ref", source)),
            detail=evidence,
            actor=actor,
            clock=clock,
        )
    return incident


def get_incident(session: Session, *, incident_id: int) -> Incident:
    """The incident ``incident_id``; raises :class:`NotFound`."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"no incident {incident_id}")
    return incident


def find_open_incident(session: Session, *, processor_id: int) -> Incident | None:
    """The most recently opened incident still open for ``processor_id``, if any."""
    stmt = (
        select(Incident)
        .where(Incident.processor_id == processor_id, Incident.status == "open")
        .order_by(Incident.id.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


def list_incidents(session: Session, *, status: str | None = None) -> list[Incident]:
    """Every incident (or those with ``status``), newest first."""
    stmt = select(Incident).order_by(Incident.id.desc())
    if status:
        stmt = stmt.where(Incident.status == status)
    return list(session.scalars(stmt))


def add_evidence(
    session: Session,
    *,
    incident_id: int,
    kind: str,
    ref: str,
    detail: Mapping[str, Any],
    actor: str,
    clock: Clock | None = None,
) -> IncidentEvidence:
    """Attach evidence (an audit range, a leak report, an alert…) to an incident."""
    incident = get_incident(session, incident_id=incident_id)
    now = _clock(clock).now()
    row = IncidentEvidence(
        incident_id=incident.id,
        kind=kind,
        ref=ref[:200],
        detail=dict(detail),
        added_at=now,
        actor=actor,
    )
    session.add(row)
    session.flush()
    _event(
        session,
        incident,
        kind="evidence",
        action=Action.INCIDENT_DECIDE,
        actor=actor,
        summary=f"evidence added: {kind} {ref}",
        at=now,
        detail={"evidence_id": row.id, "kind": kind, "ref": ref[:200]},
    )
    return row


def record_exposure(
    session: Session,
    *,
    incident_id: int,
    exposures: Mapping[int, Collection[str]],
    actor: str,
    clock: Clock | None = None,
) -> int:
    """Record which fields of which people were exposed; merges with what is known.

    Returns the number of people whose exposure is new or grew.
    """
    incident = get_incident(session, incident_id=incident_id)
    now = _clock(clock).now()
    ids = sorted(exposures)
    changed = 0
    sealing = Sealing(session)
    sealing.check(EXPOSURES, EXPOSURES.keys(ids, incident.id))  # before writing
    for start in range(0, len(ids), EXPOSURE_CHUNK):
        chunk = ids[start : start + EXPOSURE_CHUNK]
        known = {
            row.subject_id: row
            for row in session.scalars(
                select(IncidentExposure).where(
                    IncidentExposure.incident_id == incident.id,
                    IncidentExposure.subject_id.in_(chunk),
                )
            )
        }
        for subject_id in chunk:
            fields = set(exposures[subject_id])
            row = known.get(subject_id)
            if row is None:
                session.add(
                    IncidentExposure(
                        incident_id=incident.id,
                        subject_id=subject_id,
                        fields=sorted(fields),
                        recorded_at=now,
                    )
                )
                changed += 1
            elif not fields <= set(row.fields):
                row.fields = sorted(fields | set(row.fields))
                row.recorded_at = now
                changed += 1
        session.flush()
    field_names = sorted({f for fs in exposures.values() for f in fs})
    _event(
        session,
        incident,
        kind="exposure",
        action=Action.INCIDENT_DECIDE,
        actor=actor,
        summary=f"exposure recorded for {len(ids)} people ({changed} new or grown)",
        at=now,
        detail={"people": len(ids), "changed": changed, "fields": field_names},
        sealing=sealing,
    )
    return changed


def exposures_of(session: Session, *, incident_id: int) -> dict[int, frozenset[str]]:
    """Subject id -> exposed field names, for one incident."""
    stmt = select(IncidentExposure.subject_id, IncidentExposure.fields).where(
        IncidentExposure.incident_id == incident_id
    )
    return {sid: frozenset(fields) for sid, fields in session.execute(stmt)}


def exposure_count(session: Session, *, incident_id: int) -> int:
    """How many people an incident exposed (as recorded so far)."""
    stmt = select(func.count()).where(IncidentExposure.incident_id == incident_id)
    return int(session.scalar(stmt) or 0)


def record_decision(
    session: Session,
    *,
    incident_id: int,
    kind: str,
    summary: str,
    actor: str,
    detail: Mapping[str, Any] | None = None,
    action: Action = Action.INCIDENT_DECIDE,
    clock: Clock | None = None,
) -> IncidentEvent:
    """Put one decision (a measure, a notification, a note) on the timeline, audited."""
    incident = get_incident(session, incident_id=incident_id)
    return _event(
        session,
        incident,
        kind=kind,
        action=action,
        actor=actor,
        summary=summary,
        at=_clock(clock).now(),
        detail=detail,
    )


def record_processor_duty(
    session: Session,
    *,
    incident_id: int,
    actor: str,
    informed_at: datetime | None,
    how: str | None = None,
    note: str | None = None,
    clock: Clock | None = None,
) -> Incident:
    """Record the processor's Art. 33(2) duty: when and how it told the controller.

    ``informed_at=None`` records that the processor did not inform the controller
    (``note`` says what is known, e.g. "learned from the leak's publication").
    """
    incident = get_incident(session, incident_id=incident_id)
    if informed_at is not None and informed_at.tzinfo is None:
        raise InvalidInput("informed_at must carry a timezone")
    incident.processor_informed_at = informed_at
    incident.processor_informed_how = how
    incident.processor_duty_note = note
    if informed_at is None:
        text = "processor did not inform the controller (Art. 33(2))"
    else:
        text = f"processor informed the controller on {informed_at.isoformat()} ({how or '?'})"
    _event(
        session,
        incident,
        kind="processor_duty",
        action=Action.INCIDENT_DECIDE,
        actor=actor,
        summary=text,
        at=_clock(clock).now(),
        detail={"informed": informed_at is not None},
    )
    return incident


def update_register(
    session: Session,
    *,
    incident_id: int,
    actor: str,
    effects: str | None = None,
    remedial_action: str | None = None,
    delay_reason: str | None = None,
    clock: Clock | None = None,
) -> Incident:
    """Fill the Art. 33(5) register entries: effects, remedial action, reasons for delay."""
    incident = get_incident(session, incident_id=incident_id)
    changed = []
    if effects is not None:
        incident.effects = effects
        changed.append("effects")
    if remedial_action is not None:
        incident.remedial_action = remedial_action
        changed.append("remedial_action")
    if delay_reason is not None:
        incident.delay_reason = delay_reason
        changed.append("delay_reason")
    _event(
        session,
        incident,
        kind="register",
        action=Action.INCIDENT_DECIDE,
        actor=actor,
        summary=f"register updated: {', '.join(changed) or 'nothing'}",
        at=_clock(clock).now(),
        detail={"changed": changed},
    )
    return incident


def close_incident(
    session: Session, *, incident_id: int, actor: str, reason: str, clock: Clock | None = None
) -> Incident:
    """Close an incident, with the reason; it stays in the register."""
    incident = get_incident(session, incident_id=incident_id)
    now = _clock(clock).now()
    incident.status = "closed"
    incident.closed_at = now
    _event(
        session,
        incident,
        kind="close",
        action=Action.INCIDENT_DECIDE,
        actor=actor,
        summary=f"closed: {reason}",
        at=now,
    )
    return incident


def timeline(session: Session, *, incident_id: int) -> list[IncidentEvent]:
    """An incident's timeline, oldest first."""
    stmt = (
        select(IncidentEvent)
        .where(IncidentEvent.incident_id == incident_id)
        .order_by(IncidentEvent.at, IncidentEvent.id)
    )
    return list(session.scalars(stmt))


def evidence_of(session: Session, *, incident_id: int) -> list[IncidentEvidence]:
    """An incident's evidence, in the order it was added."""
    stmt = (
        select(IncidentEvidence)
        .where(IncidentEvidence.incident_id == incident_id)
        .order_by(IncidentEvidence.id)
    )
    return list(session.scalars(stmt))


@dataclass(frozen=True)
class ExposureSummary:
    """How many people had each field exposed."""

    people: int
    by_field: dict[str, int]


def exposure_summary(session: Session, *, incident_id: int) -> ExposureSummary:
    """People exposed, and the count per field name.

    Counted by the database per distinct list of fields (a leak exposes a few patterns to
    many people), so a million exposures cost one grouped scan, not a million JSON
    documents decoded in Python. The lists are grouped as text (PostgreSQL's ``json`` has
    no equality); two spellings of one set are two groups, each counted once.
    """
    by_field: dict[str, int] = {}
    people = 0
    as_text = cast(IncidentExposure.fields, Text)
    stmt = (
        select(as_text, func.count())
        .where(IncidentExposure.incident_id == incident_id)
        .group_by(as_text)
    )
    for text, count in session.execute(stmt):
        people += int(count)
        for name in json.loads(text):
            by_field[name] = by_field.get(name, 0) + int(count)
    return ExposureSummary(people=people, by_field=dict(sorted(by_field.items())))
