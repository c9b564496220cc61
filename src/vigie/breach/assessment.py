"""Assessing an incident's risk from its recorded exposures, and recording the decision.

The assessment weighs the registry's declared population context
(:mod:`vigie.registry.population`) and refuses to run without one. The DPO may overrule
its Art. 34 outcome with a reason (:func:`overrule_incident`); both are on the timeline
and in the audit trail.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from vigie.audit.actions import Action
from vigie.breach import incidents
from vigie.breach.clock import Clock, SystemClock
from vigie.breach.risk import RiskAssessment, RiskFacts, assess, overrule
from vigie.errors import InvalidInput
from vigie.registry.population import require_population


def assess_incident(
    session: Session,
    *,
    incident_id: int,
    actor: str,
    malicious: bool = False,
    encrypted: bool = False,
    risk_neutralised: str | None = None,
    disproportionate_effort: str | None = None,
    profiling_possible: bool = False,
    recipients: str | None = None,
    clock: Clock | None = None,
) -> RiskAssessment:
    """Assess the incident's risk from its exposures; store it with its reasoning (audited).

    A new assessment replaces the previous one, a DPO's overruling included (both stay on
    the timeline). Raises :class:`ConfigError` when the population context is undeclared.
    """
    incident = incidents.get_incident(session, incident_id=incident_id)
    population = require_population(session)
    summary = incidents.exposure_summary(session, incident_id=incident.id)
    # A leaked file (the incident's source, or a report fed to it later): the data reached
    # someone, which the reasoning points out while the recipients are undeclared.
    evidence = incidents.evidence_of(session, incident_id=incident.id)
    found_outside = incident.source == "leak" or any(e.kind == "leak" for e in evidence)
    result = assess(
        RiskFacts(
            fields=frozenset(summary.by_field),
            people=summary.people,
            population=population.context,
            malicious=malicious,
            encrypted=encrypted,
            risk_neutralised=risk_neutralised,
            disproportionate_effort=disproportionate_effort,
            profiling_possible=profiling_possible,
            recipients=recipients,
            found_outside=found_outside,
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
            "population_declaration": population.id,
            "population_audit_seq": population.audit_seq,
        },
        action=Action.INCIDENT_DECIDE,
        clock=clock,
    )
    return result


def overrule_incident(
    session: Session,
    *,
    incident_id: int,
    notify_people: bool,
    reason: str,
    actor: str,
    clock: Clock | None = None,
) -> RiskAssessment:
    """Record the DPO's Art. 34 decision over the incident's assessment, with the reason.

    The reason is kept with the assessment and on the timeline (whose entry is audited),
    not in the audit event's detail, which holds ids and counts only.

    Raises :class:`InvalidInput` without a reason or before any assessment.
    """
    incident = incidents.get_incident(session, incident_id=incident_id)
    if incident.risk is None:
        raise InvalidInput(
            f"incident {incident_id} has no risk assessment to overrule: "
            "run `vigie incident assess` first"
        )
    current = RiskAssessment.from_dict(incident.risk)
    now = (clock or SystemClock()).now()
    result = overrule(
        current, notify_people=notify_people, reason=reason, by=actor, at=now.isoformat()
    )
    incident.risk = result.as_dict()
    incidents.record_decision(
        session,
        incident_id=incident.id,
        kind="risk_override",
        summary=result.decision,
        actor=actor,
        detail={
            "notify_people": notify_people,
            "computed_notify_people": current.notify_people,
            "level": current.level,
        },
        action=Action.INCIDENT_DECIDE,
        clock=clock,
    )
    return result
