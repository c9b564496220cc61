"""Invariant: the shared counters equal a plain recount, for any sequence of requests."""

from __future__ import annotations

import itertools
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigie.detection import state
from vigie.processors.models import Processor

from .conftest import T0, World

_names = itertools.count()

# A request: (minutes after the previous one, people it discloses among ids 1..60; 50 is a canary)
requests = st.lists(
    st.tuples(st.integers(0, 600), st.sets(st.integers(1, 60), max_size=12)),
    min_size=1,
    max_size=25,
)


@pytest.fixture
def db_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only: many examples; the upserts run on PostgreSQL in test_state."""
    path = tmp_path / "vigie.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plan=requests)
def test_counters_match_a_recount(world: World, plan: list[tuple[int, set[int]]]) -> None:
    with world.sessions.begin() as s:
        processor = Processor(
            name=f"inv-{next(_names)}",
            legal_name="Invariant SAS (fictitious)",
            siren="732100003",
            contact_email="dpo@inv.example",
            security_officer="A. B.",
        )
        s.add(processor)
        s.flush()
        pid = processor.id
    at = T0
    seen: dict[int, list] = {}  # subject -> times disclosed
    for minutes, people in plan:
        at += timedelta(minutes=minutes)
        with world.sessions.begin() as s:
            rec = state.record(s, world.access(sorted(people), processor_id=pid, at=at))
        for p in people:
            seen.setdefault(p, []).append(at)
        day, hour = state.day_start(at), state.hour_start(at)
        assert rec.day.people == sum(1 for t in seen.values() if any(x >= day for x in t))
        assert rec.hour.people == sum(1 for t in seen.values() if any(x >= hour for x in t))
        assert rec.day.fresh == sum(1 for t in seen.values() if min(t) >= day)
        assert rec.day.canaries == sum(
            1 for p, t in seen.items() if p % 50 == 0 and any(x >= day for x in t)
        )
