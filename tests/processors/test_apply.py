"""``apply`` is declarative, idempotent, audited, and says what it changes."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.people import sealed
from vigie.audit.actions import Action
from vigie.audit.models import AuditEvent
from vigie.audit.seals import ASSIGNMENTS
from vigie.processors.apply import apply_file
from vigie.processors.directory import get_processor
from vigie.processors.models import Assignment, Contract, Processor
from vigie.processors.spec import SpecRejected

ACTOR = "operator:test"
PROVIDERS = Path(__file__).resolve().parents[2] / "src" / "vigie" / "synth" / "providers.yaml"


def _actions(s: Session) -> list[str]:
    return list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


def test_first_apply_creates_and_audits(
    sessions: sessionmaker[Session], processors_file: Path
) -> None:
    with sessions.begin() as s:
        result = apply_file(s, path=processors_file, actor=ACTOR)
    assert [(c.op, c.kind, c.target) for c in result.changes] == [
        ("create", "processor", "lingua-test"),
        ("create", "contract", "lingua-test/language"),
        ("create", "contract", "lingua-test/civic"),
        ("create", "processor", "other-test"),
    ]
    with sessions.begin() as s:
        assert _actions(s) == [
            "processor:create", "contract:create", "contract:create", "processor:create"
        ]  # fmt: skip
        contract = s.scalar(select(Contract).where(Contract.name == "language"))
        assert contract is not None
        assert contract.read_fields == ["pseudonym", "given_name", "birth_date", "email"]
        assert contract.masks == {"birth_date": "year"}
        assert (contract.budget_per_day, contract.budget_per_30_days) == (50, 500)
        assert contract.valid_to == date(2030, 12, 31)
        actors = set(s.scalars(select(AuditEvent.actor)))
        assert actors == {ACTOR}


def test_second_apply_changes_nothing(
    applied: sessionmaker[Session], processors_file: Path
) -> None:
    with applied.begin() as s:
        before = len(_actions(s))
        result = apply_file(s, path=processors_file, actor=ACTOR)
        assert not result.changed and result.unmanaged == []
        assert len(_actions(s)) == before


def test_dry_run_writes_nothing(sessions: sessionmaker[Session], processors_file: Path) -> None:
    with sessions.begin() as s:
        result = apply_file(s, path=processors_file, actor=ACTOR, dry_run=True)
        assert result.dry_run and len(result.changes) == 4
    with sessions.begin() as s:
        assert s.scalar(select(func.count()).select_from(Processor)) == 0
        assert _actions(s) == []


def test_updates_show_old_and_new(applied: sessionmaker[Session], processors_file: Path) -> None:
    text = processors_file.read_text()
    text = text.replace("per_day: 50", "per_day: 60").replace("Lingua Test SAS", "Lingua Neo SAS")
    reordered = "[email, birth_date, given_name, pseudonym]"
    text = text.replace("[pseudonym, given_name, birth_date, email]", reordered)
    processors_file.write_text(text)
    with applied.begin() as s:
        result = apply_file(s, path=processors_file, actor=ACTOR)
        by_target = {c.target: c for c in result.changes}
        assert set(by_target) == {"lingua-test", "lingua-test/language"}  # reordering is no change
        assert by_target["lingua-test/language"].diff == {"budget_per_day": (50, 60)}
        assert by_target["lingua-test"].op == "update"
        assert set(by_target["lingua-test"].diff) == {"legal_name"}
        assert _actions(s)[-2:] == ["processor:update", "contract:update"]
        last = s.scalar(select(AuditEvent.detail).order_by(AuditEvent.seq.desc()).limit(1))
        assert json.loads(last)["changed"] == ["budget_per_day"]


def test_removed_contract_takes_its_assignments(
    applied: sessionmaker[Session],
    processors_file: Path,
    add_people: Callable[..., list[int]],
) -> None:
    with applied.begin() as s:
        add_people(s, 3)
        lingua = get_processor(s, name="lingua-test")
        civic = s.scalar(select(Contract).where(Contract.name == "civic"))
        language = s.scalar(select(Contract).where(Contract.name == "language"))
        assert civic and language
        with sealed(s, ASSIGNMENTS, [1, 2, 3], action=Action.ASSIGNMENT_CHANGE):
            for sid in (1, 2):
                s.add(Assignment(contract_id=civic.id, processor_id=lingua.id, subject_id=sid,
                                 starts_on=date(2025, 1, 1)))  # fmt: skip
            s.add(Assignment(contract_id=language.id, processor_id=lingua.id, subject_id=3,
                             starts_on=date(2025, 1, 1)))  # fmt: skip
    text = processors_file.read_text()
    start = text.index("      - name: civic")
    end = text.index("  - name: other-test")
    processors_file.write_text(text[:start] + text[end:])
    with applied.begin() as s:
        preview = apply_file(s, path=processors_file, actor=ACTOR, dry_run=True)
        assert [(c.op, c.target, c.assignments_removed) for c in preview.changes] == [
            ("delete", "lingua-test/civic", 2)
        ]
    with applied.begin() as s:
        apply_file(s, path=processors_file, actor=ACTOR)
    with applied.begin() as s:
        assert s.scalars(select(Contract.name)).all() == ["language"]
        assert s.scalars(select(Assignment.subject_id)).all() == [3]
        assert _actions(s)[-1] == "contract:delete"
        detail = s.scalar(select(AuditEvent.detail).order_by(AuditEvent.seq.desc()).limit(1))
        assert json.loads(detail)["assignments_removed"] == 2
        (seal,) = json.loads(detail)["seals"]["assignments"].values()  # the bucket it changed
        assert seal[0] > 0 and len(seal[1]) == 64


def test_processors_missing_from_the_file_are_left_alone(
    applied: sessionmaker[Session], processors_file: Path
) -> None:
    text = processors_file.read_text()
    processors_file.write_text(text[: text.index("  - name: other-test")])
    with applied.begin() as s:
        result = apply_file(s, path=processors_file, actor=ACTOR)
        assert not result.changed and result.unmanaged == ["other-test"]
        assert get_processor(s, name="other-test")


def test_a_bad_file_applies_nothing(sessions: sessionmaker[Session], processors_file: Path) -> None:
    processors_file.write_text(processors_file.read_text().replace("month}", "monthly}"))
    with sessions.begin() as s, pytest.raises(SpecRejected, match="unknown mask 'monthly'"):
        apply_file(s, path=processors_file, actor=ACTOR)
    with sessions.begin() as s:
        assert s.scalar(select(func.count()).select_from(Processor)) == 0


def test_the_shipped_providers_file_applies_idempotently(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        first = apply_file(s, path=PROVIDERS, actor=ACTOR)
    with sessions.begin() as s:
        second = apply_file(s, path=PROVIDERS, actor=ACTOR)
        assert first.changed and not second.changed
        assert s.scalar(select(func.count()).select_from(Processor)) == sum(
            1 for c in first.changes if c.kind == "processor"
        )
