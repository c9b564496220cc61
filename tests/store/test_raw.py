"""Raw statements store and read what the ORM does, in the session's own transaction."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Date, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from vigie.gateway.models import LedgerEntry, RateWindow
from vigie.processors.models import Processor
from vigie.store import raw
from vigie.store.base import UTCDateTime

WHEN = datetime(2026, 3, 2, 12, 34, 56, 789000, tzinfo=UTC)
_INSERT_RATE = raw.Statement(
    "INSERT INTO gateway_rates (processor_id, window_start, requests) VALUES (?, ?, ?)",
    params=(None, UTCDateTime()),
)
_RATES = raw.Statement(
    "SELECT processor_id, window_start, requests FROM gateway_rates WHERE processor_id IN "
    "({list}) AND window_start = ? ORDER BY processor_id",
    params=(UTCDateTime(),),
    columns=(None, UTCDateTime()),
)
_LEDGER = raw.Statement(
    "INSERT INTO gateway_ledger (processor_id, subject_id, last_day) VALUES (?, ?, ?)",
    params=(None, None, Date()),
)
_DAYS = raw.Statement(
    "SELECT last_day FROM gateway_ledger WHERE processor_id = ? AND last_day = ?",
    params=(None, Date()),
    columns=(Date(),),
)


def _processors(sessions: sessionmaker[Session], n: int) -> list[int]:
    with sessions.begin() as s:
        rows = [
            Processor(
                name=f"p{i}",
                legal_name="P SAS (fictitious)",
                siren="732100003",
                contact_email=f"dpo@p{i}.example",
                security_officer="Claire Martin",
            )
            for i in range(n)
        ]
        s.add_all(rows)
        s.flush()
        return [p.id for p in rows]


def test_values_round_trip_with_the_orm(sessions: sessionmaker[Session]) -> None:
    a, b, c = _processors(sessions, 3)
    with sessions.begin() as s:
        cursor = raw.cursor(s)
        cursor.many(_INSERT_RATE, [(a, WHEN, 1), (b, WHEN, 2)])
        cursor.many(_LEDGER, [(a, 7, date(2026, 3, 2))])  # one row: executed alone
        s.add(RateWindow(processor_id=c, window_start=WHEN, requests=3))
        s.flush()
        # The ORM's row matches the raw statement's typed parameter, and the other way.
        found = cursor.all(_RATES.sized(3), (a, b, c, WHEN))
        assert found == [(a, WHEN, 1), (b, WHEN, 2), (c, WHEN, 3)]
        assert cursor.one(_DAYS, (a, date(2026, 3, 2))) == (date(2026, 3, 2),)
        assert s.scalars(select(RateWindow.window_start)).all() == [WHEN] * 3
        assert s.get(LedgerEntry, (a, 7)).last_day == date(2026, 3, 2)  # type: ignore[union-attr]
        assert cursor.one(_DAYS, (a, date(2026, 3, 3))) is None


def test_statements_share_the_sessions_transaction(sessions: sessionmaker[Session]) -> None:
    (a,) = _processors(sessions, 1)
    with sessions() as s:
        raw.cursor(s).run(_INSERT_RATE, (a, WHEN, 1))
        s.rollback()
    with sessions() as s:
        assert s.scalars(select(RateWindow)).all() == []


def test_a_connections_cursor_serves_its_transactions_one_after_the_other(
    sessions: sessionmaker[Session],
) -> None:
    """The cursor is made once per driver connection and kept: after a failed statement,
    a rollback or a commit, it still runs in the session's current transaction."""
    a, b = _processors(sessions, 2)
    with sessions() as s:
        first = raw.cursor(s)
        assert raw.cursor(s) is first
        with pytest.raises(IntegrityError):
            first.many(_INSERT_RATE, [(a, WHEN, 1), (a, WHEN, 2)])
        s.rollback()
        raw.cursor(s).run(_INSERT_RATE, (a, WHEN, 1))
        s.commit()
        raw.cursor(s).run(_INSERT_RATE, (b, WHEN, 2))
        s.rollback()
    with sessions() as s:
        assert raw.cursor(s).all(_RATES.sized(2), (a, b, WHEN)) == [(a, WHEN, 1)]


def test_driver_errors_are_sqlalchemy_errors(sessions: sessionmaker[Session]) -> None:
    (a,) = _processors(sessions, 1)
    with pytest.raises(IntegrityError), sessions.begin() as s:
        raw.cursor(s).many(_INSERT_RATE, [(a, WHEN, 1), (a, WHEN, 2)])


def test_in_lists_are_sized() -> None:
    assert "IN (?, ?, ?)" in _RATES.sized(3).sql
    assert _RATES.sized(3) is _RATES.sized(3)
    with pytest.raises(ValueError, match="at least one"):
        _RATES.sized(0)


def test_array_literals_round_trip_on_postgresql(sessions: sessionmaker[Session]) -> None:
    texts = ["email,given_name", 'a "quoted" name', "back\\slash", "{braces}", "", "NULL"]
    ints = [0, -1, 2**62, 7]
    with sessions() as s:
        if s.get_bind().dialect.name != "postgresql":
            pytest.skip("array literals are PostgreSQL's")
        cur = raw.cursor(s)
        got = cur.one(
            raw.Statement("SELECT ?::text[], ?::bigint[]"),
            (raw.text_array(texts), raw.int_array(ints)),
        )
    assert got == (texts, ints)
