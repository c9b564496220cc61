"""``synthesize`` on both databases: people, versions, assignments by region, canaries."""

from __future__ import annotations

import itertools
import math

import pytest
from sqlalchemy import func, select

from vigie.audit.actions import Action
from vigie.audit.models import EVENTS
from vigie.errors import InvalidInput
from vigie.fingerprint.canaries import canary_ids
from vigie.fingerprint.models import CanaryContact
from vigie.processors.models import Assignment, Contract, Processor
from vigie.registry.history import history
from vigie.registry.models import Subject, SubjectVersion
from vigie.registry.population import load_population, require_population
from vigie.synth.load import POPULATION, synthesize
from vigie.synth.summary import population_summary

N = 1_000


@pytest.fixture
def synthesized(engine):
    return synthesize(engine, people=N, seed=5, canary_density=0.01)


def test_population_processors_and_assignments(synthesized, sessions):
    report = synthesized
    assert report.people == N and report.processors == 27
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Subject)) == N + report.canaries
        assert s.scalar(select(func.count()).select_from(SubjectVersion)) == report.versions > 0
        assert s.scalar(select(func.count()).select_from(Assignment)) == report.assignments
        # Everyone: one language and one civic provider of their region, plus the platform.
        rows = s.execute(
            select(Subject.id, Subject.region, Processor.region, Contract.purpose)
            .join(Assignment, Assignment.subject_id == Subject.id)
            .join(Contract, Contract.id == Assignment.contract_id)
            .join(Processor, Processor.id == Assignment.processor_id)
        ).all()
        per_person: dict[int, list[str]] = {}
        for sid, region, proc_region, purpose in rows:
            assert proc_region in (None, region)
            per_person.setdefault(sid, []).append(purpose)
        assert len(per_person) == N + report.canaries
        assert all(
            sorted(p) == ["civic-training", "language-training", "session-scheduling"]
            for p in per_person.values()
        )
        events = s.execute(select(EVENTS.c.action, EVENTS.c.detail)).all()
        synth = [d for a, d in events if a == Action.SUBJECT_SYNTH]
        assert len(synth) == 1
        # The CIR registry declares what being in it reveals, and that its people are
        # vulnerable (the risk assessment weighs it), audited.
        declared = require_population(s)
        assert declared.context == load_population(POPULATION)
        assert declared.context.vulnerable and declared.context.membership_reveals
        assert [a for a, _ in events].count(Action.REGISTRY_POPULATION) == 1


def test_every_scope_holds_the_canary_density(synthesized, sessions):
    with sessions() as s:
        canaries = canary_ids(s)
        assert len(canaries) == synthesized.canaries > 0
        scopes = s.execute(select(Assignment.processor_id, Assignment.subject_id)).all()
        by_processor: dict[int, set[int]] = {}
        for pid, sid in scopes:
            by_processor.setdefault(pid, set()).add(sid)
        for members in by_processor.values():
            share = len(members & canaries) / len(members)
            assert share >= 0.01 or len(members & canaries) >= 1
        # Canaries' contacts are recorded, and only theirs.
        contacts = s.execute(select(CanaryContact.subject_id, CanaryContact.kind)).all()
        assert {sid for sid, _ in contacts} <= canaries
        assert {"email", "phone"} == {k for _, k in contacts}


def test_canaries_are_scattered_among_real_ids(synthesized, sessions):
    with sessions() as s:
        ids = sorted(canary_ids(s))
        top = s.scalar(select(func.max(Subject.id)))
    assert ids[0] < top / 2  # not all at the end


def test_history_dates_the_superseded_values(synthesized, sessions):
    with sessions() as s:
        sid = s.scalar(select(SubjectVersion.subject_id).limit(1))
        versions = history(s, subject_ids=[sid])[sid]
    assert len(versions) >= 2
    assert versions[-1].valid_to is None
    for older, newer in itertools.pairwise(versions):
        assert older.valid_to == newer.valid_from
        assert older.version + 1 == newer.version
        assert older.values != newer.values


def test_summary(synthesized, sessions):
    with sessions() as s:
        summary = population_summary(s)
    assert summary.people == N and summary.canaries == synthesized.canaries
    assert sum(n for _, n in summary.by_nationality) == N
    platform = next(p for p in summary.processors if p.name == "platform-cir")
    assert platform.scope == N + synthesized.canaries
    regional = [p.scope for p in summary.processors if p.region]
    assert sum(regional) == 2 * (N + synthesized.canaries)


def test_same_seed_gives_the_same_registry(engine, sessions, tmp_path):
    synthesize(engine, people=300, seed=9)
    with sessions() as s:
        first = s.execute(
            select(Subject.ref, Subject.email, Subject.is_canary).order_by(Subject.id)
        ).all()
    other = tmp_path / "other.db"
    from vigie.store.engine import make_engine
    from vigie.store.migrate import upgrade

    eng = make_engine(f"sqlite:///{other}")
    upgrade(eng)
    synthesize(eng, people=300, seed=9)
    with eng.connect() as conn:
        second = conn.execute(
            select(Subject.ref, Subject.email, Subject.is_canary).order_by(Subject.id)
        ).all()
    eng.dispose()
    assert first == second


def test_refuses_a_registry_that_is_not_empty(synthesized, engine, sessions):
    with pytest.raises(InvalidInput, match="already holds"):
        synthesize(engine, people=10, seed=1)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Subject)) == N + synthesized.canaries


def test_no_canaries_when_density_is_zero(engine, sessions):
    report = synthesize(engine, people=50, seed=1, canary_density=0.0)
    assert report.canaries == 0
    with sessions() as s:
        assert canary_ids(s) == set()


def test_default_density_gives_a_95_percent_sample_hit():
    from vigie.fingerprint.canaries import DEFAULT_DENSITY, detection_probability

    assert detection_probability(DEFAULT_DENSITY) >= 0.95
    assert math.isclose(detection_probability(DEFAULT_DENSITY), 0.9504, abs_tol=1e-4)


def test_sqlite_connection_is_restored_after_the_bulk_load(engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas")
    synthesize(engine, people=100, seed=2)
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert raw.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert raw.execute("PRAGMA mmap_size").fetchone()[0] == 0


def test_an_interrupted_load_leaves_nothing_behind(engine, sessions):
    class Interrupted(Exception):
        pass

    def interrupt(done: int, total: int) -> None:
        raise Interrupted  # e.g. Ctrl-C after the first batch was written

    with pytest.raises(Interrupted):
        synthesize(engine, people=300, seed=1, progress=interrupt)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Subject)) == 0
        assert s.scalar(select(func.count()).select_from(Processor)) == 0
