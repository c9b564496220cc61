"""The authority pack: everything the CNIL's online notification asks for (Art. 33(3)).

Filled from the evidence, not typed by hand: the incident and its clock, the processor
and its Art. 33(2) duty, the people and records concerned by category (recorded
exposures, the audit trail's served index), the risk assessment, the measures taken
(suspensions and key revocations with their times) and proposed, the notices sent, and
the reasons for any delay past 72 hours. Each generation is stored as a *phase* of the
notification: phase 1 is the initial one; ``complementary=True`` prepares the next phase
(Art. 33(4)), which lists what changed since the previous one. Every phase also states
the audit trail's signing-key fingerprint, so the authority learns it through this
channel, independently of any export it is sent later.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vigie.audit import index as served
from vigie.audit.anchors import Bound
from vigie.audit.evidence import Verified, require_verified, still_verified
from vigie.audit.key import AuditKey
from vigie.audit.keyring import AuditKeys
from vigie.breach import incidents
from vigie.breach.clock import Clock, SystemClock, deadline, format_time_left
from vigie.breach.models import AuthorityNotification, Incident, NoticeDelivery
from vigie.breach.risk import category_of
from vigie.errors import NotFound
from vigie.processors.models import ApiKey, Processor
from vigie.settings import Settings

NOT_GIVEN = "not known yet — to be completed in a complementary notification"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _processor(session: Session, incident: Incident) -> dict[str, Any]:
    if incident.processor_id is None:
        return {"involved": False}
    p = session.get(Processor, incident.processor_id)
    if p is None:
        return {"involved": False}
    people = served.received_by(session, processor_id=p.id)
    return {
        "involved": True,
        "name": p.name,
        "legal_name": p.legal_name,
        "siren": p.siren,
        "contact_email": p.contact_email,
        "security_officer": p.security_officer,
        "people_disclosed_through_api": len(people),
        "fields_disclosed_through_api": sorted(served.fields_received(session, processor_id=p.id)),
        "art_33_2_duty": {
            "informed_controller_at": _iso(incident.processor_informed_at),
            "how": incident.processor_informed_how,
            "note": incident.processor_duty_note
            or ("not recorded yet" if incident.processor_informed_at is None else None),
        },
    }


def _measures(session: Session, incident: Incident) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if incident.processor_id is not None:
        p = session.get(Processor, incident.processor_id)
        if p is not None and p.suspended_at:
            out.append({"at": _iso(p.suspended_at), "measure": f"processor {p.name} suspended",
                        "reason": p.suspended_reason})  # fmt: skip
        keys = session.scalars(select(ApiKey).where(ApiKey.processor_id == incident.processor_id))
        for key in keys:
            if key.suspended_at:
                out.append({"at": _iso(key.suspended_at), "measure": f"API key {key.id} suspended",
                            "reason": key.suspended_reason})  # fmt: skip
            if key.revoked_at:
                out.append({"at": _iso(key.revoked_at), "measure": f"API key {key.id} revoked",
                            "reason": None})  # fmt: skip
    for event in incidents.timeline(session, incident_id=incident.id):
        if event.kind in ("measure", "notify", "risk", "close"):
            out.append({"at": _iso(event.at), "measure": event.summary, "reason": None})
    return sorted(out, key=lambda m: m["at"] or "")


def _notices(session: Session, incident_id: int) -> dict[str, int]:
    stmt = (
        select(NoticeDelivery.channel, NoticeDelivery.status, func.count())
        .where(NoticeDelivery.incident_id == incident_id)
        .group_by(NoticeDelivery.channel, NoticeDelivery.status)
    )
    return {f"{c}:{s}": int(n) for c, s, n in session.execute(stmt)}


def _records(session: Session, incident_id: int, people: int) -> int:
    rows = 0
    for ev in incidents.evidence_of(session, incident_id=incident_id):
        if ev.kind in ("leak", "leak_report") and isinstance(ev.detail.get("rows"), int):
            rows += ev.detail["rows"]
    return rows or people


def _audit_trail(audit_key: Ed25519PublicKey) -> dict[str, Any]:
    """The audit key's fingerprint: the authority learns it here, not from an export."""
    card = AuditKey.of(audit_key)
    return {
        "signing_key_fingerprint": card.fingerprint,
        "algorithm": "Ed25519; fingerprint = SHA-256 of the raw 32-byte public key",
        "how_to_check_an_export": "python DIR/verify_trail.py DIR --fingerprint "
        + card.fingerprint,
        "note": "exports of the audit trail sent later must verify against this fingerprint, "
        "not against the key they carry",
    }


def _people_categories(population: dict[str, Any]) -> list[str]:
    """The people concerned, in the words of the population context the risk weighed."""
    out = ["signatories of the Republican Integration Contract (foreign nationals)"]
    if population.get("membership_reveals"):
        out.append(f"being in the registry reveals {population['membership_reveals']}")
    if population.get("vulnerable"):
        out.append(f"vulnerable people among them: {population.get('vulnerable_why')}")
    return out


def build_content(
    session: Session,
    settings: Settings,
    *,
    incident_id: int,
    now: datetime,
    audit_key: Ed25519PublicKey,
) -> dict[str, Any]:
    """The pack's content as plain data (the JSON file); ``audit_key`` signs the trail."""
    incident = incidents.get_incident(session, incident_id=incident_id)
    summary = incidents.exposure_summary(session, incident_id=incident.id)
    by_category: Counter[str] = Counter()
    for name, count in summary.by_field.items():
        by_category[category_of(name)] = max(by_category[category_of(name)], count)
    risk = incident.risk or {}
    due = deadline(incident.aware_at)
    late_hours = max(0.0, (now - due).total_seconds() / 3600)
    evidence = incidents.evidence_of(session, incident_id=incident.id)
    window = next((e.detail.get("leak_window") for e in evidence if e.detail.get("leak_window")),
                  None)  # fmt: skip
    return {
        "controller": {
            "name": settings.controller_legal_name,
            "short_name": settings.controller_name,
            "dpo": {
                "name": settings.dpo_name,
                "email": settings.dpo_email,
                "phone": settings.dpo_phone,
                "address": settings.dpo_address,
            },
        },
        "breach": {
            "incident_id": incident.id,
            "title": incident.title,
            "nature": "loss of confidentiality (data copied by an unauthorised party)",
            "how_detected": incident.source,
            "summary": incident.summary or NOT_GIVEN,
            "aware_at": _iso(incident.aware_at),
            "notification_due": _iso(due),
            "time_left": format_time_left(incident.aware_at, now),
            "period_of_breach": window or NOT_GIVEN,
            "status": incident.status,
        },
        "processor": _processor(session, incident),
        "people": {
            "categories": _people_categories(risk.get("population") or {}),
            "approximate_number": summary.people,
        },
        "records": {
            "approximate_number": _records(session, incident.id, summary.people),
            "people_by_data_category": dict(sorted(by_category.items())),
            "people_by_field": summary.by_field,
        },
        "likely_consequences": {
            "level": risk.get("level", NOT_GIVEN),
            "severity": risk.get("severity"),
            "factors": [f"{f['name']}: {f['reason']}" for f in risk.get("factors", [])]
            or [NOT_GIVEN],
        },
        "measures_taken": _measures(session, incident) or [{"measure": NOT_GIVEN}],
        "measures_proposed": [
            "individual notices to every affected person, in their language, listing their "
            "exposed fields (Art. 34)"
            if risk.get("notify_people")
            else "no individual notices: " + str(risk.get("decision", NOT_GIVEN)),
            "public communication for people no notice reached (Art. 34(3)(c))",
            "audit of the processor's security and of its Art. 28 obligations",
            "new API keys only after the processor's remediation; tighter budgets",
        ],
        "communication_to_people": {
            "decision": risk.get("decision", NOT_GIVEN),
            "exemption": risk.get("exemption"),
            "notices": _notices(session, incident.id),
        },
        "delay": {
            "hours_past_72": round(late_hours, 1),
            "reason": incident.delay_reason
            or ("none needed" if late_hours == 0 else "NOT RECORDED — required by Art. 33(1)"),
        },
        "evidence": [
            {"kind": e.kind, "ref": e.ref, "added_at": _iso(e.added_at)} for e in evidence
        ],
        "register": {"effects": incident.effects, "remedial_action": incident.remedial_action},
        "audit_trail": _audit_trail(audit_key),
    }


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: data}


IGNORED_IN_CHANGES = ("breach.time_left", "delay.hours_past_72")


def changes(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """What changed between two packs (dotted keys, old and new values)."""
    old, new = _flatten(before), _flatten(after)
    out = []
    for key in sorted(set(old) | set(new)):
        if key in IGNORED_IN_CHANGES or old.get(key) == new.get(key):
            continue
        out.append({"item": key, "before": old.get(key), "after": new.get(key)})
    return out


def prepare_pack(
    session: Session,
    settings: Settings,
    *,
    incident_id: int,
    actor: str,
    audit_key: Ed25519PublicKey,
    audit_keys: AuditKeys | None = None,
    complementary: bool = False,
    clock: Clock | None = None,
    verified: Verified | None = None,
) -> AuthorityNotification:
    """Build and store a phase of the notification (the latest one, or a new one).

    ``audit_key`` is the audit trail's public signing key (the pack names it), and
    ``audit_keys`` every key it ever had (``secrets.audit_keys``: after a rotation, the
    checkpoints signed before it verify with the old key). The processor's figures come
    from the served index, so the trail and the index must verify with it first, else
    :class:`vigie.errors.IntegrityError`; the pack states its fingerprint, so the
    authority can check later exports independently of them. The trail must also be
    anchored within the bound of ``settings`` (``audit_max_unanchored_*``).

    ``verified``: the gate was passed just before, outside this transaction
    (:func:`vigie.audit.evidence.verify_ahead`, the ``incident.authority-pack`` job that
    reports its progress meanwhile); then the trail must still end with, or have grown on
    top of, what was verified (:func:`~vigie.audit.evidence.still_verified`), checked
    under the chain head's lock, instead of being verified a second time.
    """
    if verified is None:
        require_verified(
            session,
            public_key=audit_keys or audit_key,
            bound=Bound.of(settings),
            purpose="the authority pack",
        )
    else:
        still_verified(session, verified)
    clock = clock or SystemClock()
    now = clock.now()
    content = build_content(
        session, settings, incident_id=incident_id, now=now, audit_key=audit_key
    )
    phases = pack_phases(session, incident_id=incident_id)
    if phases and not complementary:
        row = phases[-1]
        previous = phases[-2] if len(phases) > 1 else None
    else:
        previous = phases[-1] if phases else None
        row = AuthorityNotification(incident_id=incident_id, phase=len(phases) + 1, content={},
                                    prepared_at=now)  # fmt: skip
        session.add(row)
    content["phase"] = {
        "number": row.phase,
        "kind": "initial" if row.phase == 1 else "complementary (Art. 33(4))",
        "prepared_at": now.isoformat(),
        "changes_since_previous": changes(previous.content, content) if previous else [],
    }
    row.content = content
    row.prepared_at = now
    session.flush()
    incidents.record_decision(
        session,
        incident_id=incident_id,
        kind="authority_pack",
        summary=f"authority notification phase {row.phase} prepared",
        actor=actor,
        detail={"phase": row.phase},
        clock=clock,
    )
    return row


def pack_phases(session: Session, *, incident_id: int) -> list[AuthorityNotification]:
    """The phases of an incident's notification prepared so far, first to last."""
    stmt = (
        select(AuthorityNotification)
        .where(AuthorityNotification.incident_id == incident_id)
        .order_by(AuthorityNotification.phase)
    )
    return list(session.scalars(stmt))


def get_phase(session: Session, *, incident_id: int, phase: int) -> AuthorityNotification:
    """Phase ``phase`` of the incident's notification; :class:`NotFound` if not prepared."""
    for row in pack_phases(session, incident_id=incident_id):
        if row.phase == phase:
            return row
    raise NotFound(f"incident {incident_id} has no authority pack phase {phase}")


def write_pack(row: AuthorityNotification, *, out_dir: Path, pdf: bool = True) -> dict[str, Path]:
    """Write the pack as JSON, Markdown and PDF into ``out_dir``."""
    import json

    from vigie.breach.authority_render import render_html, render_markdown

    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"incident-{row.incident_id}-phase-{row.phase}"
    paths = {"json": out_dir / f"{stem}.json", "markdown": out_dir / f"{stem}.md"}
    paths["json"].write_text(
        json.dumps(row.content, indent=2, ensure_ascii=False, default=str) + "\n",
        encoding="utf-8",
    )
    paths["markdown"].write_text(render_markdown(row.content), encoding="utf-8")
    if pdf:
        from weasyprint import HTML

        paths["pdf"] = out_dir / f"{stem}.pdf"
        HTML(string=render_html(row.content)).write_pdf(paths["pdf"])
    return paths
