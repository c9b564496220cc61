"""The affected people held column-wise, and the report forms built from them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigie.leaks.affected import Affected, AffectedPeople
from vigie.leaks.report import LeakReport

SHAPES = (("email", "family_name", "given_name"), ("birth_date", "family_name"), ())


def _people(rows: list[tuple[int, str, bool, int, int]]) -> AffectedPeople:
    return AffectedPeople(
        subject_ids=[r[0] for r in rows],
        refs=[r[1] for r in rows],
        canary=[r[2] for r in rows],
        rows=[r[3] for r in rows],
        shapes=[r[4] for r in rows],
        shape_fields=SHAPES,
    )


def _report(affected: AffectedPeople) -> LeakReport:
    return LeakReport(
        files=[], rows=0, rejected_rows=0, rejected_samples=[], columns=[], matched_rows=0,
        canary_rows=0, affected=affected, verdict="authentic", attribution=[],
        attribution_note="", controller_side=False, leak_window=None, categories={},
        match_threshold=0.9, registry_size=10,
    )  # fmt: skip


PEOPLE = [
    (7, "CIR-1", False, 2, 0),
    (3, "CIR-2", True, 1, 1),
    (9, "=HYPERLINK(1)", False, 1, 1),
    (4, "CIR-4", False, 3, 2),
]


def test_a_sequence_of_people() -> None:
    people = _people(PEOPLE)
    assert len(people) == 4
    assert people[0] == Affected(7, "CIR-1", False, SHAPES[0], 2)
    assert people[-1] == Affected(4, "CIR-4", False, (), 3)
    assert people[1:3] == [people[1], people[2]]
    assert list(people) == [people[i] for i in range(4)]
    with pytest.raises(IndexError):
        people[4]
    assert people.subject_ids.tolist() == [7, 3, 9, 4]
    assert people.canary_ids.tolist() == [3]
    assert (people.real_count, people.canary_count) == (3, 1)
    with pytest.raises(ValueError):
        people.subject_ids[0] = 1  # read-only


def test_inconsistent_columns_are_refused() -> None:
    with pytest.raises(ValueError, match="lengths"):
        AffectedPeople(subject_ids=[1], refs=[], canary=[False], rows=[1], shapes=[0],
                       shape_fields=SHAPES)  # fmt: skip
    with pytest.raises(ValueError, match="shape"):
        AffectedPeople(subject_ids=[1], refs=["a"], canary=[False], rows=[1], shapes=[3],
                       shape_fields=SHAPES)  # fmt: skip


def test_an_empty_set_of_people() -> None:
    people = AffectedPeople.empty()
    assert len(people) == 0 and list(people) == [] and people.field_totals() == {}
    assert _report(people).as_dict()["affected"] == []


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.booleans(), st.integers(1, 5), st.integers(0, len(SHAPES) - 1)),
        max_size=30,
    )
)
def test_totals_count_each_real_person_once_per_field(
    drawn: list[tuple[bool, int, int]],
) -> None:
    people = _people([(i, f"R{i:03d}", c, n, s) for i, (c, n, s) in enumerate(drawn)])
    expected: dict[str, int] = {}
    for a in people:
        if not a.is_canary:
            for f in a.fields:
                expected[f] = expected.get(f, 0) + 1
    totals = people.field_totals()
    assert totals == expected
    assert list(totals) == sorted(expected, key=lambda f: (-expected[f], f))


def test_report_forms_list_real_people_only(tmp_path: Path) -> None:
    report = _report(_people(PEOPLE))
    data = json.loads(json.dumps(report.as_dict()))
    assert data["affected_subjects"] == 3 and data["canaries_found"] == 1
    assert data["affected"] == [
        {"ref": "CIR-1", "fields": list(SHAPES[0]), "rows": 2},
        {"ref": "=HYPERLINK(1)", "fields": list(SHAPES[1]), "rows": 1},
        {"ref": "CIR-4", "fields": [], "rows": 3},
    ]
    assert data["exposures"] == {"CIR-1": list(SHAPES[0]), "=HYPERLINK(1)": list(SHAPES[1]),
                                 "CIR-4": []}  # fmt: skip
    assert data["exposed_fields"] == {"family_name": 2, "birth_date": 1, "email": 1,
                                      "given_name": 1}  # fmt: skip
    out = tmp_path / "affected.csv"
    report.write_affected_csv(out)
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows == [
        ["ref", "exposed_family_name", "exposed_birth_date", "exposed_email", "exposed_given_name"],
        ["CIR-1", "yes", "", "yes", "yes"],
        ["'=HYPERLINK(1)", "yes", "yes", "", ""],  # a formula is neutralised
        ["CIR-4", "", "", "", ""],
    ]


def test_the_csv_header_names_each_column_once_when_the_ref_is_exposed(tmp_path: Path) -> None:
    """A file holding people's file numbers exposes the field ``ref``: its yes/no column
    must not take the name of the column that identifies the person."""
    shapes = (("email", "ref"), ("ref",))
    people = AffectedPeople(subject_ids=[1, 2], refs=["CIR-1", "CIR-2"], canary=[False, False],
                            rows=[1, 1], shapes=[0, 1], shape_fields=shapes)  # fmt: skip
    out = tmp_path / "affected.csv"
    _report(people).write_affected_csv(out)
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    assert len(set(header)) == len(header), header
    assert header == ["ref", "exposed_ref", "exposed_email"]
    assert rows[1:] == [["CIR-1", "yes", "yes"], ["CIR-2", "yes", ""]]


def test_arrays_are_accepted_as_they_come_from_duckdb() -> None:
    people = AffectedPeople(
        subject_ids=np.array([5, 6], dtype=np.int32),
        refs=np.array(["A", "B"], dtype=object),
        canary=np.array([False, True]),
        rows=np.array([1, 1], dtype=np.int64),
        shapes=np.array([0, 0], dtype=np.int64),
        shape_fields=SHAPES,
    )
    assert [a.subject_id for a in people] == [5, 6] and people.canary_ids.tolist() == [6]
