"""The resumable synth: committed batch by batch, resumed after a kill, the same registry
as the one-transaction build."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from vigie.audit.actions import Action
from vigie.audit.models import EVENTS
from vigie.errors import InvalidInput
from vigie.fingerprint.models import CanaryContact
from vigie.processors.models import Assignment, Processor, ScopeCount
from vigie.registry.models import Subject, SubjectVersion
from vigie.store.engine import make_engine
from vigie.store.migrate import upgrade
from vigie.synth.load import synthesize

PEOPLE, SEED, BATCH, DENSITY = 1_000, 7, 300, 0.01


class Stop(Exception):
    pass


def _rows(engine: Engine) -> dict[str, list[Any]]:
    """Every row synth writes, in id order, with its ids."""
    tables = {
        "subjects": Subject.__table__,
        "versions": SubjectVersion.__table__,
        "assignments": Assignment.__table__,
        "contacts": CanaryContact.__table__,
        "processors": Processor.__table__,
        "scope_counts": ScopeCount.__table__,
    }
    out: dict[str, list[Any]] = {}
    with engine.connect() as conn:
        for name, table in tables.items():
            key = list(table.primary_key.columns)  # type: ignore[attr-defined]
            cols = [c for c in table.columns if c.name != "counted_at"]  # type: ignore[attr-defined]
            out[name] = [tuple(r) for r in conn.execute(select(*cols).order_by(*key))]
        out["events"] = [
            (r.action, _detail(r.detail))  # the seals included: the same digests
            for r in conn.execute(select(EVENTS.c.action, EVENTS.c.detail).order_by(EVENTS.c.seq))
        ]
    return out


@pytest.fixture(scope="module")
def one_transaction(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Any]]:
    """The registry of the one-transaction build (SQLite), for comparison."""
    path: Path = tmp_path_factory.mktemp("one") / "one.db"
    eng = make_engine(f"sqlite:///{path}")
    upgrade(eng)
    synthesize(eng, people=PEOPLE, seed=SEED, canary_density=DENSITY, batch=BATCH)
    rows = _rows(eng)
    eng.dispose()
    return rows


def _build(engine: Engine, **kw: Any) -> Any:
    args: dict[str, Any] = {"people": PEOPLE, "seed": SEED, "canary_density": DENSITY,
                            "batch": BATCH, "resumable": True, **kw}  # fmt: skip
    return synthesize(engine, **args)


def _same(engine: Engine, reference: dict[str, list[Any]]) -> None:
    got = _rows(engine)
    if engine.dialect.name != "sqlite":  # the dialects type some columns differently
        got = {k: [tuple(map(str, r)) for r in v] for k, v in got.items() if k != "events"}
        reference = {k: [tuple(map(str, r)) for r in v] for k, v in reference.items()
                     if k != "events"}  # fmt: skip
    for name in reference:
        assert len(got[name]) == len(reference[name]) > 0, name
        assert got[name] == reference[name], name


def test_resumable_build_is_the_one_transaction_build(engine, one_transaction):
    report = _build(engine)
    assert report.people == PEOPLE and report.canaries > 0
    _same(engine, one_transaction)


def test_a_build_killed_between_batches_keeps_them_and_resumes(engine, one_transaction):
    def kill_after_two(done: int, total: int) -> None:
        if done >= 2 * BATCH:
            raise Stop

    with pytest.raises(Stop):
        _build(engine, progress=kill_after_two)
    with engine.connect() as conn:
        # Two batches committed, and nothing says the build is complete.
        assert conn.scalar(select(func.count()).select_from(Subject)) == 2 * BATCH
        done = select(func.count()).select_from(EVENTS)
        assert conn.scalar(done.where(EVENTS.c.action == Action.SUBJECT_SYNTH)) == 0
    seen: list[int] = []
    _build(engine, progress=lambda done, total: seen.append(done))
    assert seen[0] == 2 * BATCH  # resumed, not restarted
    _same(engine, one_transaction)


@pytest.mark.parametrize("at", ["assigning", "indexing", "sealing"])
def test_a_build_killed_after_loading_resumes(engine, one_transaction, at):
    def kill(name: str) -> None:
        if name == at:
            raise Stop

    with pytest.raises(Stop):
        _build(engine, phase=kill)
    _build(engine)
    _same(engine, one_transaction)


def test_a_build_killed_during_the_assignments_resumes(engine, one_transaction):
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL never reuses the ids of the removed rows compared below")
    with pytest.raises(Stop):
        _build(engine, phase=lambda name: _stop_at(int(name == "indexing"), 1))
    # As if killed before the platform's transaction (the last processor assigned)
    # committed: its assignments are not there.
    with engine.begin() as conn:
        platform = conn.scalar(select(Processor.id).where(Processor.region.is_(None)))
        gone = conn.execute(Assignment.__table__.delete().where(
            Assignment.processor_id == platform)).rowcount  # fmt: skip
    assert gone == len(one_transaction["subjects"])  # everyone is in its scope
    _build(engine)
    _same(engine, one_transaction)


def test_resume_refuses_another_population(engine):
    with pytest.raises(Stop):
        _build(engine, progress=lambda done, total: _stop_at(done, BATCH))
    for other in ({"seed": SEED + 1}, {"people": PEOPLE + 1}, {"batch": BATCH + 1}):
        with pytest.raises(InvalidInput, match="not from an interrupted synth"):
            _build(engine, **other)


def test_a_finished_build_is_never_resumed(engine):
    _build(engine, people=50)
    with pytest.raises(InvalidInput, match="already holds"):
        _build(engine, people=50)


def _detail(detail: Any) -> dict[str, Any]:
    return json.loads(detail) if isinstance(detail, str) else dict(detail or {})


def _stop_at(done: int, at: int) -> None:
    if done >= at:
        raise Stop


def test_processors_applied_beforehand_are_not_taken_for_a_started_build(engine, tmp_path):
    import yaml

    from vigie.processors.apply import apply_file
    from vigie.store.engine import make_session_factory
    from vigie.synth.load import PROVIDERS

    # One provider applied by hand on the empty registry: the build still applies the
    # shipped file (as the one-transaction build does), it does not resume from there.
    spec = yaml.safe_load(PROVIDERS.read_text(encoding="utf-8"))
    spec["processors"] = spec["processors"][:1]
    one = tmp_path / "one.yaml"
    one.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    with make_session_factory(engine).begin() as s:
        apply_file(s, path=one, actor="operator:test")
    report = _build(engine, people=200)
    assert report.processors == 27
    assert report.assignments == 3 * (200 + report.canaries)
