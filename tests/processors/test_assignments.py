"""Assignment import: checked whole, idempotent, audited, ``replace`` makes the file the scope."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from vigie.audit.models import AuditEvent
from vigie.errors import ImportRejected, InvalidInput, NotFound
from vigie.processors.assignments import import_assignments
from vigie.processors.models import Assignment
from vigie.processors.scope import scope_size

ACTOR = "operator:test"
TODAY = date(2026, 3, 1)
People = Callable[..., list[int]]


def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "assign.csv"
    path.write_text(text)
    return path


def _import(s: Session, path: Path, **kw: bool) -> object:
    return import_assignments(
        s, processor="lingua-test", contract="language", path=path, actor=ACTOR, **kw
    )


def test_import_is_idempotent_and_audited(
    applied: sessionmaker[Session], add_people: People, tmp_path: Path
) -> None:
    with applied.begin() as s:
        add_people(s, 4)
    path = _csv(
        tmp_path,
        "ref,starts_on,ends_on\nTEST-00000001,2025-01-01,\nTEST-00000002,2025-01-01,2026-02-01\n"
        "TEST-00000003,2026-01-01,2026-12-31\n\n",
    )
    with applied.begin() as s:
        first = _import(s, path)
        assert (first.added, first.updated, first.unchanged, first.removed) == (3, 0, 0, 0)
        pid = s.scalar(select(Assignment.processor_id).limit(1))
        assert pid is not None
        assert scope_size(s, processor_id=pid, on=TODAY) == 2  # person 2 ended in February
    with applied.begin() as s:
        again = _import(s, path)
        assert (again.added, again.updated, again.unchanged) == (0, 0, 3)
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "assignment:change")))
        assert len(events) == 1
        assert json.loads(events[0].detail)["added"] == 3
    path.write_text("ref,starts_on,ends_on\nTEST-00000001,2025-01-01,2026-06-30\n")
    with applied.begin() as s:
        preview = _import(s, path, replace=True, dry_run=True)
        assert (preview.updated, preview.removed, preview.dry_run) == (1, 2, True)
    with applied.begin() as s:
        done = _import(s, path, replace=True)
        assert (done.updated, done.removed) == (1, 2)
        rows = s.execute(select(Assignment.subject_id, Assignment.ends_on)).all()
        assert rows == [(1, date(2026, 6, 30))]


def test_bad_rows_are_all_reported_and_nothing_written(
    applied: sessionmaker[Session], add_people: People, tmp_path: Path
) -> None:
    with applied.begin() as s:
        add_people(s, 2)
    path = _csv(
        tmp_path,
        "ref,starts_on,ends_on\n"
        "TEST-00000001,2025-01-01,\n"
        "TEST-00000001,2025-02-01,\n"
        "NOBODY,2025-01-01,\n"
        "TEST-00000002,2025-13-01,\n"
        "TEST-00000002,2025-01-01,2024-01-01\n"
        ",2025-01-01,\n"
        "TEST-00000002,2025-01-01T00:00,\n",
    )
    with applied.begin() as s, pytest.raises(ImportRejected) as info:
        _import(s, path)
    assert info.value.problems == [
        (3, "ref", "listed twice (first on line 2)"),
        (4, "ref", "no person with this reference"),
        (5, "starts_on", "not a date YYYY-MM-DD"),
        (6, "ends_on", "before starts_on"),
        (7, "ref", "empty"),
        (8, "starts_on", "not a date YYYY-MM-DD"),
    ]
    with applied.begin() as s:
        assert s.scalars(select(Assignment)).all() == []


@pytest.mark.parametrize(
    ("text", "error", "reason"),
    [
        ("subject,starts_on\nx,2025-01-01\n", InvalidInput, "missing column"),
        ("ref,starts_on,salary\nx,2025-01-01,1\n", InvalidInput, "unknown column"),
    ],
)
def test_bad_headers(
    applied: sessionmaker[Session], tmp_path: Path, text: str, error: type[Exception], reason: str
) -> None:
    with applied.begin() as s, pytest.raises(error, match=reason):
        _import(s, _csv(tmp_path, text))


def test_unknown_contract(applied: sessionmaker[Session], tmp_path: Path) -> None:
    path = _csv(tmp_path, "ref,starts_on\n")
    with applied.begin() as s, pytest.raises(NotFound, match="no contract 'nope'"):
        import_assignments(s, processor="lingua-test", contract="nope", path=path, actor=ACTOR)


@pytest.mark.parametrize(
    ("text", "error", "reason"),
    [
        ("ref,starts_on\nA\x00B,2025-01-01\n", ImportRejected, "bad row"),
        ("ref,starts_on\n" + "x" * 40 + ",2025-01-01\n", ImportRejected, "bad row"),
        ("ref,starts_on\n" + "x" * 200_000 + ",2025-01-01\n", InvalidInput, "not valid CSV"),
    ],
    ids=["nul", "long-ref", "huge-field"],
)
def test_broken_csv_is_a_clean_error(
    applied: sessionmaker[Session], tmp_path: Path, text: str, error: type[Exception], reason: str
) -> None:
    with applied.begin() as s, pytest.raises(error, match=reason) as info:
        _import(s, _csv(tmp_path, text))
    if isinstance(info.value, ImportRejected):
        assert info.value.problems == [(2, "ref", "not a valid reference")]
