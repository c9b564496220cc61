"""A request's transaction on a pooled connection: committed or rolled back whole, the
connection given back either way, PostgreSQL's BEGIN and staged write folded as before."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.gateway.rate_rows import INSERT_RATE, WHEN, a_processor, rates
from tests.protocol import counting
from vigie.audit import trail
from vigie.audit.actions import Action
from vigie.audit.models import AuditPending
from vigie.errors import AuditFailure
from vigie.gateway import transaction
from vigie.gateway.models import RateWindow
from vigie.store import raw

_RATES = raw.Statement("SELECT requests FROM gateway_rates")


@pytest.fixture
def processor_id(sessions: sessionmaker[Session]) -> int:
    return a_processor(sessions)


def _pending(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(AuditPending)) or 0


def test_a_transaction_commits_and_gives_its_connection_back(
    engine: Engine, sessions: sessionmaker[Session], processor_id: int
) -> None:
    with transaction.pooled(engine) as s:
        cursor = raw.cursor(s)
        assert cursor is raw.cursor(s)  # pinned: no lookup through the session
        cursor.run(INSERT_RATE, (processor_id, WHEN, 1))
        row = s.get(RateWindow, processor_id)  # the ORM sees the cursor's write
        assert row is not None
        row.requests = 2  # flushed at the end, in the same transaction
    assert rates(sessions) == [2]
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_an_error_rolls_everything_back_and_gives_the_connection_back(
    engine: Engine, sessions: sessionmaker[Session], processor_id: int
) -> None:
    with pytest.raises(RuntimeError), transaction.pooled(engine) as s:
        raw.cursor(s).run(INSERT_RATE, (processor_id, WHEN, 1))
        s.execute(RateWindow.__table__.update().values(requests=9))
        assert raw.cursor(s).all(_RATES) == [(9,)]
        raise RuntimeError("refused")
    assert rates(sessions) == []
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    with transaction.pooled(engine) as s:  # the next one starts on a sound connection
        raw.cursor(s).run(INSERT_RATE, (processor_id, WHEN, 3))
    assert rates(sessions) == [3]


def test_a_staged_event_commits_with_the_transaction_or_not_at_all(
    engine: Engine, sessions: sessionmaker[Session], processor_id: int
) -> None:
    event = trail.NewEvent(action=Action.SUBJECT_READ, actor="system:test", at=WHEN)
    with pytest.raises(RuntimeError), transaction.pooled(engine) as s:
        trail.stage(s, [event])
        raise RuntimeError("rolled back")
    assert _pending(sessions) == 0
    with transaction.pooled(engine) as s:
        raw.cursor(s).run(INSERT_RATE, (processor_id, WHEN, 1))
        trail.stage(s, [event])
    assert _pending(sessions) == 1
    assert rates(sessions) == [1]


def test_a_failed_audit_append_rolls_the_transaction_back(
    engine: Engine, sessions: sessionmaker[Session], processor_id: int
) -> None:
    """The trail rolls the session back on a failure (fail closed): the whole Core
    transaction goes with it, not only the session's part."""
    with pytest.raises(AuditFailure), transaction.pooled(engine) as s:
        raw.cursor(s).run(INSERT_RATE, (processor_id, WHEN, 1))
        trail.append(s, action=Action.SUBJECT_READ, actor="nobody")  # not a valid actor
    assert rates(sessions) == []
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_postgresql_folds_begin_and_the_staged_write_as_a_session_did(
    engine: Engine, processor_id: int
) -> None:
    """BEGIN goes with the first statements, the staged event with the COMMIT: two round
    trips for a transaction of two pipelined statements and a staged write."""
    if engine.dialect.name != "postgresql":
        pytest.skip("round trips are PostgreSQL's")
    one = raw.Statement("SELECT ?::int")
    event = trail.NewEvent(action=Action.SUBJECT_READ, actor="system:test", at=WHEN)
    with counting(engine) as sent, transaction.pooled(engine) as s:
        raw.cursor(s).together([(one, (1,)), (one, (2,))])
        trail.stage(s, [event])
    assert sent.round_trips == 2, "\n".join(sent.statements)
