"""Audit events as OCSF 1.1 events: what a SIEM reads, with no person in it.

Only the events a security team acts on are exported (:func:`exported`): alerts and
canary trips (**Detection Finding**, class 2004), incidents (**Incident Finding**, 2005),
keys and processors issued, suspended, reinstated or revoked (**Account Change**, 3001),
and every other operator action (**API Activity**, 6003). The gateway's reads and writes
and its refusals stay in the trail.

An event carries the audit sequence number as its id (``metadata.uid``: receivers
dedupe on it, since delivery is at least once), the time, the actor, the origin address,
the processor's name and key id, the outcome, and from the event's detail only numbers,
booleans and the code-chosen words of :data:`WORDS` (detector, severity, containment...):
never a subject id, a free-text reason or a summary.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from vigie import __version__
from vigie.audit.actions import Action

OCSF_VERSION = "1.1.0"
DETECTION, INCIDENT, ACCOUNT, API = 2004, 2005, 3001, 6003
_CATEGORY = {DETECTION: 2, INCIDENT: 2, ACCOUNT: 3, API: 6}
_NAMES = {
    DETECTION: "Detection Finding",
    INCIDENT: "Incident Finding",
    ACCOUNT: "Account Change",
    API: "API Activity",
}
# action -> (class, activity id)
_CLASSES: dict[str, tuple[int, int]] = {
    Action.ALERT_RAISE: (DETECTION, 1),
    Action.CANARY_TRIP: (DETECTION, 1),
    Action.INCIDENT_OPEN: (INCIDENT, 1),
    Action.INCIDENT_DECIDE: (INCIDENT, 2),
    Action.INCIDENT_NOTIFY: (INCIDENT, 2),
    Action.KEY_ISSUE: (ACCOUNT, 1),
    Action.KEY_REVOKE: (ACCOUNT, 6),
    Action.KEY_SUSPEND: (ACCOUNT, 5),
    Action.PROCESSOR_CREATE: (ACCOUNT, 1),
    Action.PROCESSOR_SUSPEND: (ACCOUNT, 5),
    Action.PROCESSOR_REINSTATE: (ACCOUNT, 2),
}
_QUIET = frozenset(
    {
        Action.SUBJECT_READ,
        Action.SUBJECT_LIST,
        Action.SUBJECT_WRITE,
        Action.ACCESS_DENIED,
        Action.AUDIT_CHECKPOINT,
    }
)
"""Never exported: the gateway's traffic (the trail and the metrics have it) and checkpoints."""
WORDS = frozenset(
    {"detector", "severity", "containment", "kind", "problem", "request", "status", "phase"}
)
"""Detail keys whose string values are code-chosen words, exported as they are."""
_SEVERITY = {"low": 2, "medium": 3, "high": 4, "critical": 5}


def exported(action: str, actor: str) -> bool:
    """Whether an audit event goes to the SIEM."""
    if action in _QUIET:
        return False
    return action in _CLASSES or actor.startswith("operator:")


def _detail(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    raw = orjson.loads(text)
    if not isinstance(raw, Mapping):
        return {}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, bool | int | float) or (isinstance(value, str) and key in WORDS):
            out[str(key)] = value
    return out


def event(
    *,
    seq: int,
    at_us: int,
    action: str,
    actor: str,
    origin: str | None,
    processor: str | None,
    key_id: int | None,
    outcome: str,
    detail: str | None,
) -> dict[str, Any]:
    """The OCSF event of one exported audit event."""
    class_uid, activity = _CLASSES.get(action, (API, 99))
    facts = _detail(detail)
    severity = _SEVERITY.get(outcome, _SEVERITY.get(str(facts.get("severity")), 1))
    if class_uid == DETECTION and action == Action.CANARY_TRIP:
        severity = 5
    out: dict[str, Any] = {
        "class_uid": class_uid,
        "class_name": _NAMES[class_uid],
        "category_uid": _CATEGORY[class_uid],
        "activity_id": activity,
        "type_uid": class_uid * 100 + activity,
        "severity_id": severity,
        "status_id": 1 if outcome in ("ok", *_SEVERITY) else 2,
        "time": at_us // 1000,
        "message": action,
        "metadata": {
            "version": OCSF_VERSION,
            "uid": f"vigie-audit-{seq}",
            "log_name": "audit",
            "product": {"name": "Vigie", "vendor_name": "Vigie", "version": __version__},
        },
        "actor": {"user": {"name": actor, "type_id": 1 if actor.startswith("operator:") else 99}},
        "unmapped": {
            "vigie": {
                "seq": seq,
                "action": action,
                "outcome": outcome,
                "processor": processor,
                "key_id": key_id,
                "detail": facts,
            }
        },
    }
    if origin:
        out["src_endpoint"] = {"ip": origin}
    if class_uid in (DETECTION, INCIDENT):
        out["finding_info"] = {
            "uid": f"vigie-audit-{seq}",
            "title": str(facts.get("detector") or action),
        }
    if class_uid == ACCOUNT:
        out["user"] = {"name": processor or "", "uid": str(key_id) if key_id else None}
    return out
