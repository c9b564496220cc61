"""The requirements' tables are evidence: each row must match the chained event that
recorded it, and each such event must keep its row (``vigie audit verify`` calls
:func:`check_requirements` in the snapshot it verifies).

- ``requirement_versions``: the content (text, parameters, deadline, consequence…) must
  hash to the ``content_sha256`` of its ``requirement:create``/``version`` event;
- ``attestations``: the processor, requirement, version, evidence hash and expiry must be
  those of its ``attestation:submit`` event (an expiry pushed back in the store, or a
  hash swapped, would make a provider compliant behind Vigie's back);
- ``inspections``: the findings must hash to its ``inspection:record`` event's.

A difference is an :class:`vigie.errors.IntegrityError` naming the row and the event.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from vigie.audit.gather import Gathered
from vigie.errors import IntegrityError
from vigie.requirements.spec import content_sha256

_ACTIONS = ("requirement:create", "requirement:version", "attestation:submit", "inspection:record")
_EVENTS = (
    "SELECT seq, action, processor_id, detail FROM audit_events WHERE action IN "
    f"({', '.join(repr(a) for a in _ACTIONS)})"
)
_VERSIONS = (
    'SELECT audit_seq, requirement, version, kind, "check", text_fr, text_en, parameters, '
    "deadline, consequence, reduce_budget_to, clauses, content_sha256 FROM requirement_versions"
)
_ATTESTATIONS = (
    "SELECT id, audit_seq, processor_id, requirement, version, document_sha256, expires_on "
    "FROM attestations"
)
_INSPECTIONS = (
    "SELECT id, audit_seq, processor_id, held_on, findings, findings_sha256 FROM inspections"
)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def _all(raw: Any, sql: str) -> list[Any]:
    cur = raw.cursor()
    try:
        cur.execute(sql)
        return list(cur.fetchall())
    finally:
        cur.close()


def _fault(what: str) -> IntegrityError:
    return IntegrityError(f"requirements: {what}")


def check_requirements(raw: Any, dialect: str, gathered: Gathered | None = None) -> int:
    """Check the three tables against their events; return how many rows were checked.
    ``gathered``: the events :func:`vigie.audit.gather.gather` read (else read here)."""
    events: dict[int, tuple[str, int | None, dict[str, Any]]] = {}
    found = _all(raw, _EVENTS) if gathered is None else [
        (seq, action, pid, detail)
        for seq, action, pid, detail in gathered.others
        if action in _ACTIONS
    ]  # fmt: skip
    for seq, action, pid, detail in found:
        events[int(seq)] = (str(action), pid, _json(detail or "{}"))
    used: set[int] = set()
    checked = 0
    for row in _all(raw, _VERSIONS):
        seq, name, version = int(row[0]), row[1], int(row[2])
        content = {
            "id": name,
            "version": version,
            "kind": row[3],
            "check": row[4],
            "text": {"fr": row[5], "en": row[6]},
            "parameters": _json(row[7]),
            "deadline": str(row[8]),
            "consequence": row[9],
            "reduce_budget_to": None if row[10] is None else float(row[10]),
            "clauses": _json(row[11]),
        }
        event = events.get(seq)
        if event is None or event[0] not in ("requirement:create", "requirement:version"):
            raise _fault(
                f"{name} v{version} has no requirement event {seq} (added behind Vigie's back)"
            )
        recorded = event[2].get("content_sha256")
        if content_sha256(content) != row[12] or row[12] != recorded:
            raise _fault(
                f"{name} v{version} differs from what event {seq} recorded (its text, "
                "parameters, deadline or consequence were changed in the store)"
            )
        used.add(seq)
        checked += 1
    for row in _all(raw, _ATTESTATIONS):
        rid, seq = int(row[0]), int(row[1])
        event = events.get(seq)
        detail = event[2] if event and event[0] == "attestation:submit" else None
        stored = (row[2], row[3], int(row[4]), row[5], str(row[6]))
        if (
            detail is None
            or event is None
            or stored
            != (
                event[1],
                detail.get("requirement"),
                detail.get("version"),
                detail.get("document_sha256"),
                detail.get("expires_on"),
            )
        ):
            raise _fault(
                f"attestation {rid} differs from its event {seq} (processor, "
                "requirement, evidence or expiry changed in the store)"
            )
        used.add(seq)
        checked += 1
    for row in _all(raw, _INSPECTIONS):
        rid, seq = int(row[0]), int(row[1])
        event = events.get(seq)
        findings = json.dumps(
            _json(row[4]), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        digest = hashlib.sha256(findings.encode("utf-8")).hexdigest()
        if (
            event is None
            or event[0] != "inspection:record"
            or event[1] != row[2]
            or digest != row[5]
            or event[2].get("findings_sha256") != digest
            or event[2].get("held_on") != str(row[3])
        ):
            raise _fault(
                f"audit record {rid} differs from its event {seq} (findings or date "
                "changed in the store)"
            )
        used.add(seq)
        checked += 1
    for seq, (action, _, _) in sorted(events.items()):
        if seq not in used:
            raise _fault(f"event {seq} ({action}) has lost its row (deleted from the store)")
    return checked
