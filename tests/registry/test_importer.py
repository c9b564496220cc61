"""Import: every bad row reported, all or nothing, idempotent, versioned; export; show."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from vigie.audit.actions import Action
from vigie.audit.models import EVENTS
from vigie.errors import ImportRejected, InvalidInput, NotFound
from vigie.fingerprint.canaries import plant
from vigie.registry.exporter import export_subjects
from vigie.registry.history import history, show
from vigie.registry.importer import import_file, validate
from vigie.registry.models import SUBJECT_FIELDS, Subject, SubjectVersion
from vigie.synth.people import generate

ACTOR = "operator:test"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def people(n: int = 12, seed: int = 1) -> list[dict]:
    batch = generate(n, seed=seed)
    return [{k: ("" if v is None else str(v)) for k, v in batch.record(i).items()}
            for i in range(n)]  # fmt: skip


def write_csv(path: Path, rows: list[dict], delimiter: str = ",") -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter=delimiter)
        w.writeheader()
        w.writerows(rows)
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("kind", ["csv", "semicolon", "jsonl"])
def test_import_creates_people_and_reimport_changes_nothing(sessions, tmp_path, kind):
    rows = people()
    if kind == "jsonl":
        path = write_jsonl(tmp_path / "people.jsonl", rows)
    else:
        path = write_csv(tmp_path / "people.csv", rows, ";" if kind == "semicolon" else ",")
    with sessions.begin() as s:
        first = import_file(s, path=path, actor=ACTOR, now=T0)
    assert (first.created, first.updated, first.unchanged) == (12, 0, 0)
    with sessions.begin() as s:
        again = import_file(s, path=path, actor=ACTOR, now=T0 + timedelta(days=1))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 12)
    with sessions() as s:
        assert count(s, Subject) == 12
        assert count(s, SubjectVersion) == 0
        assert set(s.scalars(select(Subject.version))) == {1}
        events = s.execute(select(EVENTS.c.action, EVENTS.c.actor, EVENTS.c.detail)).all()
    imports = [e for e in events if e.action == Action.SUBJECT_IMPORT]
    assert len(imports) == 2 and imports[0].actor == ACTOR
    details = [json.loads(e.detail) if isinstance(e.detail, str) else e.detail for e in imports]
    assert details[0]["created"] == 12
    assert rows[0]["family_name"] not in json.dumps(details)


def test_a_changed_value_makes_a_dated_new_version(sessions, tmp_path):
    rows = people()
    with sessions.begin() as s:
        import_file(s, path=write_csv(tmp_path / "a.csv", rows), actor=ACTOR, now=T0)
    moved = [dict(r) for r in rows]
    moved[3]["address_line"] = "5 rue Neuve"
    moved[3]["phone"] = "06 11 22 33 44"
    later = T0 + timedelta(days=30)
    with sessions.begin() as s:
        report = import_file(s, path=write_csv(tmp_path / "b.csv", moved), actor=ACTOR, now=later)
    assert (report.updated, report.unchanged) == (1, 11)
    with sessions() as s:
        view = show(s, ref=rows[3]["ref"])
        sid = view.id
        versions = history(s, subject_ids=[sid, 999_999])
    assert list(versions) == [sid]
    old, new = versions[sid]
    assert (old.version, new.version) == (1, 2)
    assert old.valid_from == T0 and old.valid_to == later == new.valid_from
    assert new.valid_to is None
    assert old.values["address_line"] == rows[3]["address_line"]
    assert new.values["address_line"] == "5 rue Neuve"
    assert new.values["phone"] == "+33611223344"
    assert view.current.version == 2 and view.as_json()["history"][0]["valid_to"]


def test_every_bad_row_is_reported_and_nothing_is_written(sessions, tmp_path):
    rows = people(6)
    with sessions.begin() as s:
        import_file(s, path=write_csv(tmp_path / "ok.csv", rows[:2]), actor=ACTOR, now=T0)
    bad = [dict(r) for r in rows]
    bad[0]["address_line"] = "changed, but the file is refused"
    bad[2]["nationality"] = "XYZ"
    bad[3]["email"] = "nobody@"
    bad[3]["birth_date"] = "31/12/1990"
    bad[4]["ref"] = bad[1]["ref"]
    bad[5]["phone"] = "+33 1"
    with pytest.raises(ImportRejected) as info, sessions.begin() as s:
        import_file(s, path=write_csv(tmp_path / "bad.csv", bad), actor=ACTOR, now=T0)
    problems = info.value.problems
    assert (4, "nationality") in [(line, f) for line, f, _ in problems]
    assert {(5, "email"), (5, "birth_date"), (6, "ref"), (7, "phone")} <= {
        (line, f) for line, f, _ in problems
    }
    assert all(reason for _, _, reason in problems)
    with sessions() as s:
        assert count(s, Subject) == 2 and count(s, SubjectVersion) == 0
        first = s.scalar(select(Subject.address_line).where(Subject.ref == rows[0]["ref"]))
    assert first == rows[0]["address_line"]


def test_file_level_problems(sessions, tmp_path):
    rows = people(2)
    for r in rows:
        r["religion"] = "x"
        del r["city"]
    with pytest.raises(ImportRejected) as info, sessions.begin() as s:
        import_file(s, path=write_csv(tmp_path / "cols.csv", rows), actor=ACTOR)
    assert {("religion", "unknown column"), ("city", "required column missing")} <= {
        (f, r) for _, f, r in info.value.problems
    }
    junk = tmp_path / "junk.jsonl"
    junk.write_text('{"ref": "A1"}\nnot json\n[1, 2]\n', "utf-8")
    with pytest.raises(ImportRejected) as info, sessions.begin() as s:
        import_file(s, path=junk, actor=ACTOR)
    lines = {line for line, _, _ in info.value.problems}
    assert {1, 2, 3} <= lines
    blank = tmp_path / "x.xlsx"
    blank.write_bytes(b"PK\x03\x04")
    with pytest.raises(InvalidInput, match=r"\.csv or \.jsonl"), sessions.begin() as s:
        import_file(s, path=blank, actor=ACTOR)
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("ref\nK\xe9\n".encode("latin-1"))
    with pytest.raises(InvalidInput, match="not UTF-8"), sessions.begin() as s:
        import_file(s, path=latin1, actor=ACTOR)


def test_export_round_trips_and_leaves_canaries_out(sessions, tmp_path):
    rows = people(8)
    with sessions.begin() as s:
        import_file(s, path=write_jsonl(tmp_path / "in.jsonl", rows), actor=ACTOR, now=T0)
        canary = s.scalar(select(Subject).where(Subject.ref == rows[0]["ref"]))
        plant(s, subject_ids=[canary.id], actor=ACTOR)
    for fmt in ("csv", "jsonl"):
        buf = io.StringIO()
        with sessions.begin() as s:
            n = export_subjects(s, out=buf, fmt=fmt, actor=ACTOR)
        assert n == 7
        path = tmp_path / f"out.{fmt}"
        path.write_text(buf.getvalue(), "utf-8")
        with sessions.begin() as s:
            again = import_file(s, path=path, actor=ACTOR)
        assert (again.created, again.updated, again.unchanged) == (0, 0, 7)
    header = buf.getvalue().splitlines()[0]
    assert list(json.loads(header)) == list(SUBJECT_FIELDS)
    with sessions.begin() as s:
        assert export_subjects(s, out=io.StringIO(), fmt="csv", actor=ACTOR,
                               include_canaries=True) == 8  # fmt: skip


def test_importing_a_canary_ref_is_refused(sessions, tmp_path):
    rows = people(3)
    with sessions.begin() as s:
        import_file(s, path=write_csv(tmp_path / "a.csv", rows), actor=ACTOR, now=T0)
        plant(s, subject_ids=[s.scalar(select(Subject.id).where(Subject.ref == rows[1]["ref"]))],
              actor=ACTOR)  # fmt: skip
    rows[1]["city"] = rows[1]["city"] + "x"
    with pytest.raises(ImportRejected) as info, sessions.begin() as s:
        import_file(s, path=write_csv(tmp_path / "b.csv", rows), actor=ACTOR, now=T0)
    assert info.value.problems == [(3, "ref", "reserved reference (a canary's)")]


def test_show_unknown_ref(sessions):
    with pytest.raises(NotFound), sessions() as s:
        show(s, ref="NOPE")


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 2**31),
    address=st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=60
    ).filter(lambda t: t.strip()),
    kind=st.sampled_from(["csv", "jsonl"]),
)
@example(seed=1, address='a\u2028b\u0085c, "d";e', kind="jsonl")
@example(seed=1, address='a\u2028b, "d";e\u00a0', kind="csv")
def test_files_round_trip_through_the_reader(tmp_path, seed, address, kind):
    """Whatever the text (quotes, delimiters, scripts), a written row reads back the same."""
    rows = people(3, seed=seed)
    rows[1]["address_line"] = address
    path = tmp_path / f"rt.{kind}"
    (write_jsonl if kind == "jsonl" else write_csv)(path, rows)
    records = [r for _, r in validate(path)]
    assert [r.ref for r in records] == [r["ref"] for r in rows]
    assert records[1].address_line == address.strip()
