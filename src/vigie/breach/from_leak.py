"""Opening an incident from a leak analysis report (``vigie leak analyze --json``).

The report names people by their controller reference ``ref`` and carries:

- ``affected_subjects``: a list of refs, or of ``{"ref": ..., "fields": [...]}`` objects
  (per-person exposure), or only a count;
- ``exposures`` (optional): ``{ref: [field, ...]}``, per-person exposure;
- ``columns``: the leaked columns and their kinds (``[{"name", "kind"}]`` or
  ``{name: kind}``); when no per-person exposure is given, every affected person is taken
  to have every typed column exposed;
- ``attribution``: the processor the file came from (``{"processor": name, ...}``, or a
  ranked list of candidates, best first);
- ``leak_window``: when the leaked values were current (``{"from", "to"}``).

Everything else in the report is kept as evidence (counts and ids only are stored).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigie.breach import incidents
from vigie.breach.clock import Clock, SystemClock
from vigie.breach.models import Incident
from vigie.errors import InvalidInput
from vigie.processors.models import Processor
from vigie.registry.models import SUBJECT_FIELDS, Subject

KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "full_name": ("given_name", "family_name"),
    "pseudonym": ("pseudonym",),
}
IGNORED_KINDS = frozenset({"date", "unknown", ""})
REF_CHUNK = 5_000


def load_report(path: Path) -> dict[str, Any]:
    """Read a leak report; a clear error if it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{path}: not a readable JSON leak report ({exc})") from None
    if not isinstance(data, dict) or "affected_subjects" not in data:
        raise InvalidInput(f"{path}: a leak report needs an 'affected_subjects' entry")
    return data


def column_fields(columns: Any) -> frozenset[str]:
    """Registry field names exposed by the leaked columns."""
    kinds: Iterable[Any]
    if isinstance(columns, Mapping):
        kinds = columns.values()
    elif isinstance(columns, list):
        kinds = [c.get("kind") if isinstance(c, Mapping) else c for c in columns]
    else:
        kinds = []
    fields: set[str] = set()
    for kind in kinds:
        kind = str(kind or "")
        if kind in IGNORED_KINDS:
            continue
        fields.update(KIND_FIELDS.get(kind, (kind,) if kind in SUBJECT_FIELDS else ()))
    return frozenset(fields)


def person_exposures(report: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    """``ref -> exposed fields`` as the report tells it."""
    default = column_fields(report.get("columns"))
    out: dict[str, frozenset[str]] = {}
    affected = report.get("affected_subjects")
    if isinstance(affected, list):
        for item in affected:
            if isinstance(item, Mapping):
                fields = item.get("fields")
                out[str(item["ref"])] = frozenset(fields) if fields else default
            else:
                out[str(item)] = default
    for ref, fields in (report.get("exposures") or {}).items():
        out[str(ref)] = frozenset(fields)
    return out


def attributed_processor(session: Session, attribution: Any) -> Processor | None:
    """The processor the report attributes the leak to, if it names a known one."""
    best = attribution[0] if isinstance(attribution, list) and attribution else attribution
    if not isinstance(best, Mapping):
        return None
    if best.get("processor_id") is not None:
        return session.get(Processor, int(best["processor_id"]))
    name = best.get("processor") or best.get("name")
    if not name:
        return None
    return session.scalars(select(Processor).where(Processor.name == str(name))).first()


def _resolve_refs(session: Session, refs: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(refs), REF_CHUNK):
        chunk = refs[start : start + REF_CHUNK]
        stmt = select(Subject.ref, Subject.id).where(Subject.ref.in_(chunk))
        found.update({ref: sid for ref, sid in session.execute(stmt)})
    return found


def open_from_leak(
    session: Session,
    *,
    report: Mapping[str, Any],
    actor: str,
    aware_at: datetime | None = None,
    report_ref: str = "leak-report",
    clock: Clock | None = None,
) -> Incident:
    """Open (or feed) the incident of a leak report: evidence, processor and exposures.

    If the attributed processor already has an open incident (e.g. from a detection
    alert), the report is added to it rather than opening a second one.
    """
    clock = clock or SystemClock()
    processor = attributed_processor(session, report.get("attribution"))
    exposures = person_exposures(report)
    ids = _resolve_refs(session, sorted(exposures))
    affected = report.get("affected_subjects")
    count = len(affected) if isinstance(affected, list) else int(affected or 0)
    evidence = {
        "ref": report_ref,
        "affected_subjects": count,
        "linked_subjects": len(ids),
        "unknown_refs": len(exposures) - len(ids),
        "columns": sorted(column_fields(report.get("columns"))),
        "leak_window": report.get("leak_window"),
        "attribution": _strip_attribution(report.get("attribution")),
        "verdict": report.get("verdict"),
        "controller_side": report.get("controller_side"),
        "stored_report_id": report.get("stored_id"),
        "rows": report.get("rows"),
    }
    incident = (
        incidents.find_open_incident(session, processor_id=processor.id) if processor else None
    )
    if incident is None:
        who = f" attributed to {processor.name}" if processor else ""
        incident = incidents.open_incident(
            session,
            title=f"Leaked file of {count} people{who}",
            source="leak",
            aware_at=aware_at or clock.now(),
            actor=actor,
            processor_id=processor.id if processor else None,
            summary=f"A leaked file holding {count} people of the registry was analysed.",
            evidence=evidence,
            clock=clock,
        )
    else:
        incidents.add_evidence(
            session,
            incident_id=incident.id,
            kind="leak",
            ref=report_ref,
            detail=evidence,
            actor=actor,
            clock=clock,
        )
    if ids:
        incidents.record_exposure(
            session,
            incident_id=incident.id,
            exposures={ids[ref]: exposures[ref] for ref in ids},
            actor=actor,
            clock=clock,
        )
    return incident


def _strip_attribution(attribution: Any) -> Any:
    """Keep only the JSON-safe top of the attribution (names, ids, scores)."""
    best = attribution[0] if isinstance(attribution, list) and attribution else attribution
    if not isinstance(best, Mapping):
        return None
    return {k: v for k, v in best.items() if isinstance(v, str | int | float | bool | None)}


def incidents_of_report(session: Session, *, report_ref: str) -> list[int]:
    """Ids of the incidents a leak report (``report_ref``) was given to as evidence."""
    from vigie.breach.models import IncidentEvidence

    found = select(IncidentEvidence.incident_id).where(
        IncidentEvidence.kind == "leak", IncidentEvidence.ref == report_ref
    )
    return sorted(set(session.scalars(found)))
