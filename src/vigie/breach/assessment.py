"""Assessing an incident's risk from its recorded exposures, and recording the decision."""

from __future__ import annotations

from sqlalchemy.orm import Session

from vigie.audit.actions import Action
from vigie.breach import incidents
from vigie.breach.clock import Clock
from vigie.breach.risk import RiskAssessment, RiskFacts, assess


def assess_incident(
    session: Session,
    *,
    incident_id: int,
    actor: str,
    malicious: bool = False,
    vulnerable: bool = True,
    encrypted: bool = False,
    risk_neutralised: str | None = None,
    disproportionate_effort: str | None = None,
    clock: Clock | None = None,
) -> RiskAssessment:
    """Assess the incident's risk from its exposures; store it with its reasoning (audited)."""
    incident = incidents.get_incident(session, incident_id=incident_id)
    summary = incidents.exposure_summary(session, incident_id=incident.id)
    result = assess(
        RiskFacts(
            fields=frozenset(summary.by_field),
            people=summary.people,
            vulnerable=vulnerable,
            malicious=malicious,
            encrypted=encrypted,
            risk_neutralised=risk_neutralised,
            disproportionate_effort=disproportionate_effort,
        )
    )
    incident.risk = result.as_dict()
    incidents.record_decision(
        session,
        incident_id=incident.id,
        kind="risk",
        summary=f"risk {result.level} ({result.severity}): {result.decision}",
        actor=actor,
        detail={
            "level": result.level,
            "severity": result.severity,
            "notify_authority": result.notify_authority,
            "notify_people": result.notify_people,
            "exemption": result.exemption,
        },
        action=Action.INCIDENT_DECIDE,
        clock=clock,
    )
    return result
