"""Opening an incident from a leak report: processor, evidence, per-person exposure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from vigie.breach import incidents
from vigie.breach.clock import FixedClock
from vigie.breach.from_leak import column_fields, load_report, open_from_leak, person_exposures
from vigie.errors import InvalidInput


def test_column_fields_maps_kinds() -> None:
    cols = [
        {"name": "nom complet", "kind": "full_name"},
        {"name": "tel", "kind": "phone"},
        {"name": "x", "kind": "unknown"},
        {"name": "d", "kind": "date"},
    ]
    assert column_fields(cols) == {"given_name", "family_name", "phone"}
    assert column_fields({"mail": "email", "pays": "nationality"}) == {"email", "nationality"}


def test_person_exposures_prefers_per_person_fields() -> None:
    report = {
        "affected_subjects": [{"ref": "A", "fields": ["email"]}, "B"],
        "columns": {"mail": "email", "nat": "nationality"},
        "exposures": {"C": ["phone"]},
    }
    got = person_exposures(report)
    assert got == {"A": {"email"}, "B": {"email", "nationality"}, "C": {"phone"}}


def test_open_from_leak_links_people_and_processor(
    session: Session, subject_ids: list[int], processor_id: int, clock: FixedClock
) -> None:
    report = {
        "affected_subjects": ["CIR-2025-000001", "CIR-2025-000002", "CIR-2099-999999"],
        "columns": [{"name": "email", "kind": "email"}, {"name": "nat", "kind": "nationality"}],
        "attribution": [{"processor": "lingua", "confidence": 0.98}],
        "leak_window": {"from": "2025-11-01", "to": "2025-12-15"},
    }
    inc = open_from_leak(session, report=report, actor="operator:cli", clock=clock)
    assert inc.processor_id == processor_id and inc.source == "leak"
    assert incidents.exposures_of(session, incident_id=inc.id) == {
        subject_ids[0]: {"email", "nationality"},
        subject_ids[1]: {"email", "nationality"},
    }
    (ev,) = incidents.evidence_of(session, incident_id=inc.id)
    assert ev.detail["linked_subjects"] == 2 and ev.detail["unknown_refs"] == 1
    # A second report on the same processor feeds the same open incident.
    again = open_from_leak(
        session,
        report={**report, "affected_subjects": ["CIR-2025-000003"]},
        actor="operator:cli",
        clock=clock,
    )
    assert again.id == inc.id
    assert incidents.exposure_count(session, incident_id=inc.id) == 3


def test_load_report_refuses_non_reports(tmp_path: Path) -> None:
    bad = tmp_path / "r.json"
    bad.write_text("{not json")
    with pytest.raises(InvalidInput, match="not a readable JSON"):
        load_report(bad)
    bad.write_text(json.dumps({"columns": []}))
    with pytest.raises(InvalidInput, match="affected_subjects"):
        load_report(bad)
