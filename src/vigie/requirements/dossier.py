"""The sanction dossier's content: everything about one processor and one incident that a
contracting officer, a court or the CNIL needs to act, as plain data (``dossier.json``).

Built from the evidence, not typed by hand: the processor and its contracts; each
requirement version in force at the incident (its full text and its audit event) and the
processor's standing on it then; its keys and the networks they were used from; its
access volume per day against its declared normal volume and its budget; the alerts; the
attribution of the leak with its evidence and confidence; the incident's timeline; the
processor's own Art. 33(2) duty; and the requirements breached, which the draft formal
notice (:mod:`vigie.requirements.notice`) cites. ``cited`` lists the audit events the
dossier rests on: :mod:`vigie.requirements.dossier_pack` proves each one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from vigie.audit.models import AuditEvent
from vigie.breach import incidents
from vigie.detection.models import Alert, KeyActivity, Origin
from vigie.processors.models import ApiKey, Contract, Processor
from vigie.requirements.apply import stored_content
from vigie.requirements.models import RequirementVersion
from vigie.requirements.standing import in_force, standing_of

CITED_ACTIONS = (
    "processor:create", "processor:update", "processor:suspend", "processor:reinstate",
    "contract:create", "contract:update", "contract:delete", "key:issue", "key:revoke",
    "key:suspend", "alert:raise", "attestation:submit", "inspection:record",
    "requirement:warn", "requirement:enforce", "requirement:lift", "campaign:notify",
    "campaign:acknowledge", "incident:open", "incident:decide",
)  # fmt: skip
"""The processor's events a dossier cites (and proves)."""
_DAY_US = 86_400_000_000


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _processor(p: Processor) -> dict[str, Any]:
    return {
        "name": p.name,
        "legal_name": p.legal_name,
        "siren": p.siren,
        "contact_email": p.contact_email,
        "security_officer": p.security_officer,
        "security_contact_247": p.security_contact_247,
        "suspended_at": _iso(p.suspended_at),
        "suspended_reason": p.suspended_reason,
        "new_keys_refused": p.new_keys_refused,
    }


def _contracts(session: Session, p: Processor) -> list[dict[str, Any]]:
    return [
        {
            "name": c.name,
            "reference": c.reference,
            "purpose": c.purpose,
            "legal_basis": c.legal_basis,
            "valid_from": c.valid_from.isoformat(),
            "valid_to": c.valid_to.isoformat() if c.valid_to else None,
            "read_fields": list(c.read_fields),
            "budget_per_day": c.budget_per_day,
            "budget_per_30_days": c.budget_per_30_days,
            "expected_per_day": c.expected_per_day,
        }
        for c in session.scalars(
            select(Contract).where(Contract.processor_id == p.id).order_by(Contract.name)
        )
    ]


def _keys(session: Session, p: Processor) -> dict[str, Any]:
    used = {
        k.key_id: k
        for k in session.scalars(select(KeyActivity).where(KeyActivity.processor_id == p.id))
    }
    keys = []
    for k in session.scalars(select(ApiKey).where(ApiKey.processor_id == p.id).order_by(ApiKey.id)):
        activity = used.get(k.id)
        keys.append(
            {
                "id": k.id,
                "created_at": _iso(k.created_at),
                "expires_at": _iso(k.expires_at),
                "allowed_cidrs": list(k.allowed_cidrs or []),
                "revoked_at": _iso(k.revoked_at),
                "suspended_at": _iso(k.suspended_at),
                "suspended_reason": k.suspended_reason,
                "first_used_at": _iso(activity.first_at) if activity else None,
                "last_used_at": _iso(activity.last_at) if activity else None,
            }
        )
    origins = [
        {"network": o.network, "first_at": _iso(o.first_at), "last_at": _iso(o.last_at)}
        for o in session.scalars(
            select(Origin).where(Origin.processor_id == p.id).order_by(Origin.first_at)
        )
    ]
    return {"keys": keys, "used_from": origins}


def _volume(session: Session, p: Processor, contracts: list[dict[str, Any]]) -> dict[str, Any]:
    """Distinct people disclosed per UTC day, from the served index (verified evidence)."""
    rows = session.execute(
        text(
            "SELECT at_us / :day AS d, COUNT(DISTINCT subject_id) FROM audit_disclosures "
            "WHERE processor_id = :p GROUP BY at_us / :day ORDER BY d"
        ),
        {"day": _DAY_US, "p": p.id},
    )
    by_day: list[dict[str, Any]] = [
        {"day": datetime.fromtimestamp(int(d) * 86_400, UTC).date().isoformat(), "people": int(n)}
        for d, n in rows
    ]
    expected = [c["expected_per_day"] for c in contracts if c["expected_per_day"]]
    return {
        "declared_normal_per_day": sum(expected) if expected else None,
        "budget_per_day": sum(c["budget_per_day"] for c in contracts),
        "by_day": by_day,
        "peak": max(by_day, key=lambda r: r["people"]) if by_day else None,
    }


def _alerts(session: Session, p: Processor) -> list[dict[str, Any]]:
    return [
        {
            "id": a.id,
            "raised_at": _iso(a.raised_at),
            "detector": a.detector,
            "severity": a.severity,
            "summary": a.summary,
            "containment": a.containment,
            "audit_seq": a.audit_seq,
            "evidence": a.evidence,
        }
        for a in session.scalars(
            select(Alert).where(Alert.processor_id == p.id).order_by(Alert.raised_at)
        )
    ]


def _requirements(session: Session, p: Processor, at: datetime) -> list[dict[str, Any]]:
    rows = in_force(session, at=at)
    by_id = {r.requirement: r for r in rows}
    out = []
    for s in standing_of(session, processor=p, at=at, requirements=rows):
        version: RequirementVersion = by_id[s.requirement]
        out.append(
            {
                "id": s.requirement,
                "version": s.version,
                "kind": s.kind,
                "text_fr": s.text_fr,
                "text_en": s.text_en,
                "clauses": list(s.clauses),
                "deadline": s.deadline,
                "consequence": s.consequence,
                "state_at_incident": s.state,
                "phase_at_incident": s.phase,
                "reasons": list(s.reasons),
                "evidence_seqs": list(s.evidence),
                "audit_seq": s.requirement_seq,
                "content": stored_content(version),
            }
        )
    return out


def _cited(session: Session, p: Processor, content: dict[str, Any]) -> list[int]:
    seqs = set(
        session.scalars(
            select(AuditEvent.seq).where(
                AuditEvent.processor_id == p.id, AuditEvent.action.in_(CITED_ACTIONS)
            )
        )
    )
    for req in content["requirements"]:
        seqs.add(req["audit_seq"])
        seqs.update(req["evidence_seqs"])
    for alert in content["alerts"]:
        for key in ("audit_seq_from", "audit_seq_to"):
            if isinstance(alert["evidence"].get(key), int):
                seqs.add(alert["evidence"][key])  # the disclosures the alert rests on
    for event in content["timeline"]:
        if event["audit_seq"]:
            seqs.add(event["audit_seq"])
    return sorted(s for s in seqs if s)


def build_content(
    session: Session, *, processor: Processor, incident_id: int, controller: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:  # fmt: skip
    """The dossier as plain data (see the module docstring)."""
    incident = incidents.get_incident(session, incident_id=incident_id)
    at = incident.aware_at
    contracts = _contracts(session, processor)
    evidence = incidents.evidence_of(session, incident_id=incident.id)
    leak = [e.detail for e in evidence if e.kind == "leak"]
    content: dict[str, Any] = {
        "format": "vigie-dossier/v1",
        "built_at": now.isoformat(),
        "controller": controller,
        "processor": _processor(processor),
        "incident": {
            "id": incident.id,
            "title": incident.title,
            "source": incident.source,
            "aware_at": _iso(incident.aware_at),
            "status": incident.status,
            "involves_this_processor": incident.processor_id == processor.id,
        },
        "contracts": contracts,
        "requirements": _requirements(session, processor, at),
        **_keys(session, processor),
        "volume": _volume(session, processor, contracts),
        "alerts": _alerts(session, processor),
        "attribution": [
            {
                "attribution": e.get("attribution"),
                "verdict": e.get("verdict"),
                "leak_window": e.get("leak_window"),
                "rows": e.get("rows"),
                "affected_subjects": e.get("affected_subjects"),
            }
            for e in leak
        ],
        "timeline": [
            {"at": _iso(e.at), "kind": e.kind, "summary": e.summary, "audit_seq": e.audit_seq}
            for e in incidents.timeline(session, incident_id=incident.id)
        ],
        "processor_duty": {
            "informed_controller_at": _iso(incident.processor_informed_at),
            "how": incident.processor_informed_how,
            "note": incident.processor_duty_note,
        },
    }
    content["breached"] = [
        {"id": r["id"], "version": r["version"], "text_fr": r["text_fr"], "clauses": r["clauses"],
         "reasons": r["reasons"], "deadline": r["deadline"]}
        for r in content["requirements"]
        if r["phase_at_incident"] == "overdue"
    ]  # fmt: skip
    content["cited"] = _cited(session, processor, content)
    content["events_of_processor"] = int(
        session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.processor_id == processor.id)
        )
        or 0
    )
    return content
