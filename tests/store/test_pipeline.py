"""A transaction's BEGIN sent with its first statements and its last writes with its COMMIT
(PostgreSQL): fewer round trips, the same transaction."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.protocol import counting
from vigie.gateway.models import RateWindow
from vigie.processors.models import Processor
from vigie.store import raw
from vigie.store.base import UTCDateTime

WHEN = datetime(2026, 3, 2, 12, 34, tzinfo=UTC)
_ADD_RATE = raw.Statement(
    "INSERT INTO gateway_rates (processor_id, window_start, requests) VALUES (?, ?, ?)",
    params=(None, UTCDateTime()),
)
_ADDED = raw.Statement(_ADD_RATE.sql + " RETURNING processor_id", params=_ADD_RATE.params)
_COUNT = raw.Statement("SELECT COUNT(*) FROM gateway_rates")


class WriteFailed(Exception):
    """What the tests' queued writes raise when they fail at commit."""


def _failure(exc: Exception) -> Exception:
    return WriteFailed(type(exc).__name__)


@pytest.fixture
def processors(engine: Engine, sessions: sessionmaker[Session]) -> list[int]:
    if engine.dialect.name != "postgresql":
        pytest.skip("pipelines are PostgreSQL's")
    with sessions.begin() as s:
        made = [
            Processor(
                name=f"p{i}",
                legal_name=f"P{i} SAS (fictitious)",
                siren="732100003",
                contact_email=f"dpo@p{i}.example",
                security_officer="Claire Martin",
            )
            for i in range(3)
        ]
        s.add_all(made)
        s.flush()
        return [p.id for p in made]


def _rates(sessions: sessionmaker[Session]) -> set[int]:
    with sessions() as s:
        return set(s.scalars(select(RateWindow.processor_id)))


def _autocommit(session: Session) -> bool:
    driver = session.connection().connection.driver_connection
    assert driver is not None
    return bool(driver.autocommit)


def test_begin_first_statements_and_commit_with_writes_take_two_round_trips(
    engine: Engine, sessions: sessionmaker[Session], processors: list[int]
) -> None:
    first, second, _ = processors
    with counting(engine) as sent:
        with sessions.begin() as s:
            cursor = raw.cursor(s)
            assert cursor.together([(_COUNT, ())]) == [[(0,)]]
            cursor.with_commit(_ADD_RATE, (first, WHEN, 1), failure=_failure)
            cursor.with_commit(_ADD_RATE, (second, WHEN, 1), failure=_failure)
        assert sent.round_trips == 2, "\n".join(sent.statements)
    assert _rates(sessions) == {first, second}


def test_a_transaction_opened_in_a_pipeline_rolls_back_whole(
    sessions: sessionmaker[Session], processors: list[int]
) -> None:
    first, second, _ = processors
    with pytest.raises(RuntimeError), sessions.begin() as s:
        cursor = raw.cursor(s)
        cursor.together([(_ADDED, (first, WHEN, 1)), (_COUNT, ())])
        cursor.run(_ADD_RATE, (second, WHEN, 1))
        cursor.with_commit(_ADD_RATE, (processors[2], WHEN, 1), failure=_failure)
        raise RuntimeError("the request failed")
    assert _rates(sessions) == set()
    with sessions() as s:  # the pooled connection went back out of autocommit
        assert not _autocommit(s)


def test_a_write_failing_at_commit_raises_its_failure_and_nothing_is_committed(
    sessions: sessionmaker[Session], processors: list[int]
) -> None:
    first, _, _ = processors
    with pytest.raises(WriteFailed, match="UniqueViolation"), sessions.begin() as s:
        cursor = raw.cursor(s)
        cursor.together([(_ADDED, (first, WHEN, 1))])
        cursor.with_commit(_ADD_RATE, (first, WHEN, 2), failure=_failure)  # same key
    assert _rates(sessions) == set()
    with sessions.begin() as s:  # the connection is usable and transactional again
        assert not _autocommit(s)
        raw.cursor(s).run(_ADD_RATE, (first, WHEN, 1))
    assert _rates(sessions) == {first}


def test_a_rollback_drops_the_writes_queued_for_the_commit(
    sessions: sessionmaker[Session], processors: list[int]
) -> None:
    first, second, _ = processors
    with sessions() as s:
        cursor = raw.cursor(s)
        cursor.with_commit(_ADD_RATE, (first, WHEN, 1), failure=_failure)
        s.rollback()
        raw.cursor(s).run(_ADD_RATE, (second, WHEN, 1))
        s.commit()
    assert _rates(sessions) == {second}


def test_a_connection_closed_mid_transaction_goes_back_to_the_pool_transactional(
    engine: Engine, sessions: sessionmaker[Session], processors: list[int]
) -> None:
    first, second, _ = processors
    s = sessions()
    raw.cursor(s).together([(_ADDED, (first, WHEN, 1))])
    assert _autocommit(s)  # our own BEGIN opened it
    s.close()  # no commit: the pool's reset rolls back
    with sessions() as s:
        assert not _autocommit(s)
        raw.cursor(s).run(_ADD_RATE, (second, WHEN, 1))
        s.rollback()  # a write outside a transaction would have stayed
    assert _rates(sessions) == set()
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(RateWindow)) == 0


def test_a_savepoint_write_is_not_queued(
    sessions: sessionmaker[Session], processors: list[int]
) -> None:
    first, second, _ = processors
    with sessions.begin() as s:
        raw.cursor(s).together([(_ADDED, (first, WHEN, 1))])
        nested = s.begin_nested()
        raw.cursor(s).with_commit(_ADD_RATE, (second, WHEN, 1), failure=_failure)
        nested.rollback()
    assert _rates(sessions) == {first}
