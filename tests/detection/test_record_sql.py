"""Detection's record in one statement (PostgreSQL): the throttle read with it, the
detector state read with it, and one round trip for all of it.

The counts themselves are checked by ``test_state.py``, whose PostgreSQL variants go
through this statement (:func:`vigie.detection.state.record` uses it there).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.protocol import counting
from vigie.detection import record_sql, state
from vigie.detection.models import (
    ActivityWindow,
    DetectorState,
    KeyActivity,
    Origin,
    Seen,
    Throttle,
)
from vigie.detection.pipeline import DetectionPipeline
from vigie.errors import BudgetExceeded

from .conftest import World


@pytest.fixture(autouse=True)
def _postgresql_only(world: World) -> None:
    if world.sessions.kw["bind"].dialect.name != "postgresql":
        pytest.skip("the one-statement record is PostgreSQL's")


def _record(world: World, access: object, *, enforce: bool) -> record_sql.Recorded:
    assert hasattr(access, "at")
    with world.sessions.begin() as s:
        return record_sql.record(
            s,
            access,  # type: ignore[arg-type]
            enforce=enforce,
            network="192.0.2.0/24",
            hour=state.hour_start(world.now),
            day=state.day_start(world.now),
            since=world.now - state.ACTIVE_KEY_WINDOW,
        )


def _rows(world: World) -> tuple[int, ...]:
    with world.sessions() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(model)) or 0
            for model in (Seen, ActivityWindow, KeyActivity, Origin)
        )


def test_a_throttled_request_is_refused_and_writes_nothing(world: World) -> None:
    first = _record(world, world.access(world.scope[:3]), enforce=True)
    assert first.throttled_until is None and first.day.people == 3
    before = _rows(world)
    until = world.now + timedelta(minutes=15)
    with world.sessions.begin() as s:
        s.add(Throttle(processor_id=world.processor_id, key_id=world.key_ids[0], until=until))
    refused = _record(world, world.access(world.scope[3:6]), enforce=True)
    assert refused.throttled_until == until
    assert _rows(world) == before  # nobody recorded, no window, key or origin touched
    # A request the gateway refused anyway (not enforced) is recorded all the same.
    shown = _record(world, world.access(world.scope[3:6], status=404), enforce=False)
    assert shown.throttled_until is None and shown.day.people == 6
    # The pipeline refuses the throttled request with the throttle's retry time.
    with world.sessions.begin() as s, pytest.raises(BudgetExceeded) as caught:
        DetectionPipeline().observe(s, world.access(world.scope[6:9]))
    assert caught.value.retry_after == 15 * 60 + 1


def test_it_reads_the_detector_state_and_takes_one_round_trip(world: World) -> None:
    none = _record(world, world.access(world.scope[:2]), enforce=True)
    assert not none.has_state and none.evaluated_at is None
    with world.sessions.begin() as s:
        s.add(
            DetectorState(processor_id=world.processor_id, evaluated_at=world.now, people_at_eval=2)
        )
    with counting(world.sessions.kw["bind"]) as sent:
        found = _record(world, world.access(world.scope[2:40], kind="list"), enforce=True)
    assert (found.has_state, found.evaluated_at, found.people_at_eval) == (True, world.now, 2)
    assert (found.day.people, found.day.listed, found.active_keys) == (40, 38, 1)
    # BEGIN with the statement, then COMMIT.
    assert sent.round_trips == 2, "\n".join(sent.statements)


def test_alone_it_commits_on_its_own_in_one_round_trip(world: World) -> None:
    """As the detection pipeline sends it: no BEGIN, no COMMIT; the record stands even if
    what the session does next rolls back (the request it counts was committed before)."""
    engine = world.sessions.kw["bind"]
    with counting(engine) as sent, world.sessions() as s:
        found = record_sql.record(
            s,
            world.access(world.scope[:5]),
            enforce=True,
            network=None,
            hour=state.hour_start(world.now),
            day=state.day_start(world.now),
            since=world.now - state.ACTIVE_KEY_WINDOW,
            alone=True,
        )
        s.add(DetectorState(processor_id=world.processor_id, people_at_eval=0))
        s.flush()  # a transaction of its own, rolled back by the block's end
        s.rollback()
    assert found.day.people == 5
    assert _rows(world) == (5, 2, 1, 0)  # recorded: 5 people, 2 windows, 1 key, no origin
    with world.sessions() as s:
        assert s.get(DetectorState, world.processor_id) is None  # what followed rolled back
    # The statement alone, no BEGIN before it nor COMMIT after; then what followed
    # opened a transaction of its own (BEGIN, the insert, ROLLBACK).
    trace = "\n".join(sent.statements)
    assert "Execute" in sent.statements[0] and "BEGIN" in sent.statements[1], trace
    assert not any("COMMIT" in line for line in sent.statements), trace
    # The connection went back to the pool out of autocommit: the next session's writes
    # are one transaction again.
    with world.sessions() as s:
        s.add(DetectorState(processor_id=world.processor_id, people_at_eval=0))
        s.flush()
        s.rollback()
    with world.sessions() as s:
        assert s.get(DetectorState, world.processor_id) is None
