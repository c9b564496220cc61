"""The JSON report written in pieces says exactly what the whole report says."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from vigie.leaks import report as report_module
from vigie.leaks.affected import AffectedPeople
from vigie.leaks.report import LeakReport


def _report(people: int) -> LeakReport:
    shapes = [("email", "family_name"), ("birth_date",), ("phone", "given_name")]
    return LeakReport(
        files=[{"name": "f.csv", "format": "csv", "encoding": "utf-8", "rows": people}],
        rows=people,
        rejected_rows=0,
        rejected_samples=[],
        columns=[],
        matched_rows=people,
        canary_rows=1 if people else 0,
        affected=AffectedPeople(
            subject_ids=list(range(people)),
            refs=[f"OFII-{i:06d}" for i in range(people)],
            canary=[i == 3 for i in range(people)],
            rows=[1 + i % 2 for i in range(people)],
            shapes=[i % 3 for i in range(people)],
            shape_fields=shapes,
        ),
        verdict="authentic",
        attribution=[],
        attribution_note="nobody is named",
        controller_side=False,
        leak_window=None,
        categories={},
        match_threshold=0.99,
        registry_size=1000,
        explanations=[{"file": "f.csv", "line": 2, "ref": "OFII-000000", "terms": [["x", 1.0]]}],
        stored_id=7,
    )


@pytest.mark.parametrize("people", [0, 1, 10, 23])
def test_the_json_in_pieces_is_the_whole_report(
    people: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report_module, "PEOPLE_PER_CHUNK", 4)
    r = _report(people)
    whole = json.loads(orjson.dumps(r.as_dict(), option=orjson.OPT_SERIALIZE_NUMPY))
    assert json.loads(r.to_json()) == whole
    assert json.loads(r.to_json(indent=True)) == whole
    r.write_json(tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text()) == whole
    assert len(whole["affected"]) == people - (1 if people > 3 else 0)  # the canary is not


def test_the_affected_list_is_the_json_of_its_dicts() -> None:
    """The report's affected people, written without a dict per person, are the bytes
    orjson writes for the dicts — whatever the ``ref`` holds."""
    refs = ["OFII-000000001", 'a"b', "back\\slash", "tab\tnew\nline\x01", "Zoë 李 😀", ""]
    shapes = [(), ("email",), ("birth_date", "family_name", "given_name")]
    people = [(ref, shapes[i % 3], i + 1) for i, ref in enumerate(refs)]
    shape_json = {s: orjson.dumps(list(s)) for s in shapes}
    expected = orjson.dumps([{"ref": r, "fields": list(f), "rows": n} for r, f, n in people])
    assert report_module.affected_json(people, shape_json) == expected
    assert report_module.affected_json([], shape_json) == b"[]"
