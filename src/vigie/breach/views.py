"""Incidents as plain data, for ``--json``, the CLI tables and the dashboard."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from vigie.breach import incidents
from vigie.breach.clock import deadline, format_time_left
from vigie.breach.models import Incident
from vigie.processors.models import Processor


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def incident_row(session: Session, incident: Incident, *, now: datetime) -> dict[str, Any]:
    """One line of ``vigie incident list``."""
    processor = session.get(Processor, incident.processor_id) if incident.processor_id else None
    return {
        "id": incident.id,
        "title": incident.title,
        "source": incident.source,
        "status": incident.status,
        "processor": processor.name if processor else None,
        "aware_at": _iso(incident.aware_at),
        "deadline": _iso(deadline(incident.aware_at)),
        "time_left": format_time_left(incident.aware_at, now),
        "people": incidents.exposure_count(session, incident_id=incident.id),
        "risk": (incident.risk or {}).get("level"),
    }


def incident_detail(session: Session, *, incident_id: int, now: datetime) -> dict[str, Any]:
    """Everything ``vigie incident show`` prints."""
    incident = incidents.get_incident(session, incident_id=incident_id)
    summary = incidents.exposure_summary(session, incident_id=incident.id)
    return {
        **incident_row(session, incident, now=now),
        "opened_at": _iso(incident.opened_at),
        "closed_at": _iso(incident.closed_at),
        "summary": incident.summary,
        "effects": incident.effects,
        "remedial_action": incident.remedial_action,
        "delay_reason": incident.delay_reason,
        "risk_assessment": incident.risk,
        "processor_duty": {
            "informed_at": _iso(incident.processor_informed_at),
            "how": incident.processor_informed_how,
            "note": incident.processor_duty_note,
        },
        "exposure": {"people": summary.people, "by_field": summary.by_field},
        "evidence": [
            {
                "id": e.id,
                "kind": e.kind,
                "ref": e.ref,
                "added_at": _iso(e.added_at),
                "detail": e.detail,
            }
            for e in incidents.evidence_of(session, incident_id=incident.id)
        ],
        "timeline": [
            {
                "at": _iso(e.at),
                "kind": e.kind,
                "actor": e.actor,
                "summary": e.summary,
                "audit_seq": e.audit_seq,
            }
            for e in incidents.timeline(session, incident_id=incident.id)
        ],
    }
