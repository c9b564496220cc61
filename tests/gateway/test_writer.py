"""The writer's kept connection: one transaction at a time, committed or rolled back whole."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from tests.gateway.rate_rows import INSERT_RATE, WHEN, a_processor, rates
from vigie.audit import trail
from vigie.audit.actions import Action
from vigie.audit.checkpoints import AppendWatch
from vigie.errors import AuditFailure
from vigie.gateway.models import RateWindow
from vigie.gateway.writer import WriterConnection
from vigie.store import raw


@pytest.fixture
def processor_id(sessions: sessionmaker[Session]) -> int:
    return a_processor(sessions)


def test_transactions_commit_on_the_same_connection(
    engine: Engine, sessions: sessionmaker[Session], processor_id: int
) -> None:
    writer = WriterConnection(engine)
    seen = set()
    for n in (1, 2):
        with writer.begin() as s:
            s.execute(RateWindow.__table__.delete())  # the ORM's statement and the raw one
            raw.cursor(s).run(INSERT_RATE, (processor_id, WHEN, n))
            seen.add(id(raw.cursor(s)))
    assert len(seen) == 1  # one driver cursor, kept
    assert rates(sessions) == [2]
    writer.close()


def test_an_error_rolls_everything_back_and_the_next_transaction_works(
    engine: Engine, sessions: sessionmaker[Session], processor_id: int
) -> None:
    writer = WriterConnection(engine)
    with pytest.raises(RuntimeError), writer.begin() as s:
        raw.cursor(s).run(INSERT_RATE, (processor_id, WHEN, 1))
        s.add(RateWindow(processor_id=processor_id, window_start=WHEN, requests=9))
        raise RuntimeError("refused")
    assert rates(sessions) == []
    with writer.begin() as s:
        s.add(RateWindow(processor_id=processor_id, window_start=WHEN, requests=3))  # flushed
    assert rates(sessions) == [3]
    writer.close()


def test_a_failed_audit_append_rolls_the_transaction_back(
    engine: Engine, sessions: sessionmaker[Session], processor_id: int
) -> None:
    """The trail rolls the session back on a failure (fail closed): the writer's whole
    transaction goes with it, not only the session's part."""
    writer = WriterConnection(engine)
    with pytest.raises(AuditFailure), writer.begin() as s:
        raw.cursor(s).run(INSERT_RATE, (processor_id, WHEN, 1))
        trail.append(s, action=Action.SUBJECT_READ, actor="nobody")  # not a valid actor
    assert rates(sessions) == []
    writer.close()


def test_the_engines_transaction_events_fire(engine: Engine, processor_id: int) -> None:
    """The checkpointer's watch sees a committed append (the engine's begin / commit
    events), as it does for a session's transaction, and not a rolled-back one."""
    watch = AppendWatch(engine)
    writer = WriterConnection(engine)
    try:
        with pytest.raises(RuntimeError), writer.begin() as s:
            trail.append(s, action=Action.SUBJECT_READ, actor="system:test", at=WHEN)
            raise RuntimeError("rolled back")
        assert not watch.appended
        with writer.begin() as s:
            trail.append(s, action=Action.SUBJECT_READ, actor="system:test", at=WHEN)
        assert watch.appended
    finally:
        watch.close()
        writer.close()


def test_a_failed_begin_gives_the_connection_back(
    engine: Engine, sessions: sessionmaker[Session], processor_id: int
) -> None:
    """A BEGIN that fails (SQLite's lock wait timing out) leaves no half-open connection
    behind: the next transaction starts on a sound one."""
    writer = WriterConnection(engine)
    failed = []

    def refuse_once(_conn: object) -> None:
        if not failed:
            failed.append(True)
            raise RuntimeError("database is locked")

    event.listen(engine, "begin", refuse_once, insert=True)
    try:
        with pytest.raises(RuntimeError), writer.begin():
            pass
        with writer.begin() as s:
            raw.cursor(s).run(INSERT_RATE, (processor_id, WHEN, 5))
    finally:
        event.remove(engine, "begin", refuse_once)
        writer.close()
    assert rates(sessions) == [5]
