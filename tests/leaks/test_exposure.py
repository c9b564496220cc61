"""Exposure and dating over hand-made link tables in a real DuckDB.

The queries are checked against their plain definitions: per-person flags row by row,
one query per category, and the dating window as a window function over ``scored``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigie.leaks.evidence import FieldVerdict
from vigie.leaks.exposure import CATEGORIES, affected_people, category_totals, leak_window

T0 = dt.datetime(2024, 1, 1)


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect(":memory:")
    c.execute(
        """
        CREATE TABLE reg (subject_id BIGINT, version BIGINT, valid_from TIMESTAMP,
            valid_to TIMESTAMP, is_canary BOOLEAN, ref VARCHAR, nationality VARCHAR,
            residence_reason VARCHAR, residence_status VARCHAR, preferred_language VARCHAR);
        CREATE TABLE row_fields (row_id BIGINT, subject_id BIGINT, email_v BOOLEAN,
            email_a BOOLEAN, phone_v BOOLEAN, phone_a BOOLEAN, nationality_v BOOLEAN,
            nationality_a BOOLEAN);
        CREATE TABLE links (row_id BIGINT, subject_id BIGINT, is_canary BOOLEAN, score DOUBLE,
            confidence DOUBLE);
        CREATE TABLE scored (row_id BIGINT, subject_id BIGINT, version BIGINT,
            valid_from TIMESTAMP, valid_to TIMESTAMP, is_canary BOOLEAN, score DOUBLE);
        """
    )
    yield c
    c.close()


def _verdict(kind: str, verdict: str) -> FieldVerdict:
    return FieldVerdict(kind, verdict, linked_rows=5, filled=5, values=5, agree=5)


def test_each_person_gets_the_fields_of_any_of_their_rows(
    con: duckdb.DuckDBPyConnection,
) -> None:
    con.execute(
        """
        INSERT INTO reg VALUES
            (1, 1, '2024-01-01', NULL, false, 'B-1', 'FRA', 'work', 'valid', 'fr'),
            (1, 0, '2023-01-01', '2024-01-01', false, 'B-1', 'FRA', 'work', 'valid', 'fr'),
            (2, 1, '2024-01-01', NULL, true, 'A-2', 'AFG', NULL, 'valid', 'ps'),
            (3, 1, '2024-01-01', NULL, false, 'C-3', NULL, 'study', 'valid', 'fr'),
            (4, 1, '2024-01-01', NULL, false, 'D-4', 'FRA', 'study', 'expired', 'en');
        INSERT INTO row_fields VALUES (10, 1, true, true, false, false, false, false),
            (11, 1, false, false, true, false, true, true),
            (12, 2, false, false, false, false, false, false),
            (13, 3, true, false, false, false, false, false),
            (14, 4, false, false, false, false, true, false);
        INSERT INTO links VALUES (10, 1, false, 9, 1), (11, 1, false, 9, 1),
            (12, 2, true, 9, 1), (13, 3, false, 9, 1), (14, 4, false, 9, 1);
        """
    )
    # E-mail and phone columns are evidence; the nationality column's values mostly
    # disagree with the registry: it exposes only the people whose value agrees.
    verdicts = {"email": _verdict("email", "evidence"), "phone": _verdict("phone", "evidence"),
                "nationality": _verdict("nationality", "mismatch")}  # fmt: skip
    people = affected_people(con, verdicts)
    # Ordered by ref; a value in an evidence column exposes its person even when it
    # disagrees with their record (C-3's e-mail); an invented one does not (D-4).
    assert [(a.ref, a.subject_id, a.is_canary, a.rows, a.fields) for a in people] == [
        ("A-2", 2, True, 1, ()),
        ("B-1", 1, False, 2, ("email", "nationality", "phone")),
        ("C-3", 3, False, 1, ("email",)),
        ("D-4", 4, False, 1, ()),
    ]
    totals = category_totals(con)
    assert totals == _categories_one_by_one(con)
    assert totals["nationality"] == {"FRA": 2, "None": 1}  # an absent value is listed last
    assert totals["residence_reason"] == {"study": 2, "work": 1}  # the canary is left out


def test_nobody_linked(con: duckdb.DuckDBPyConnection) -> None:
    people = affected_people(con, {"email": _verdict("email", "evidence")})
    assert len(people) == 0 and people.field_totals() == {}
    assert category_totals(con) == {cat: {} for cat in CATEGORIES}
    assert leak_window(con) is None


def _categories_one_by_one(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    out = {}
    for cat in CATEGORIES:
        rows = con.execute(
            f"""SELECT r.{cat}, count(DISTINCT r.subject_id) FROM reg r
                WHERE r.valid_to IS NULL AND NOT r.is_canary
                  AND r.subject_id IN (SELECT subject_id FROM links)
                GROUP BY 1 ORDER BY 2 DESC, 1"""
        ).fetchall()
        out[cat] = {str(k): int(v) for k, v in rows}
    return out


def _window_by_definition(con: duckdb.DuckDBPyConnection) -> tuple[object, ...]:
    row = con.execute(
        """
        WITH best AS (
            SELECT s.row_id, s.subject_id, s.valid_from, s.valid_to, s.score,
                   max(s.score) OVER (PARTITION BY s.row_id, s.subject_id) AS top
            FROM scored s JOIN links l ON l.row_id = s.row_id AND l.subject_id = s.subject_id),
        per_row AS (
            SELECT row_id, min(valid_from) AS lo,
                   CASE WHEN bool_or(valid_to IS NULL) THEN NULL ELSE max(valid_to) END AS hi
            FROM best WHERE score = top GROUP BY row_id)
        SELECT max(lo), min(hi), min(lo), CASE WHEN bool_or(hi IS NULL) THEN NULL ELSE max(hi) END,
               count(*), count(*) FILTER (WHERE hi IS NOT NULL)
        FROM per_row
        """
    ).fetchall()[0]
    return tuple(row)


VERSION = st.tuples(
    st.integers(0, 3),  # row
    st.integers(0, 2),  # person (the row's linked person is row % 2)
    st.integers(0, 30),  # start, in days
    st.one_of(st.none(), st.integers(1, 30)),  # length in days, None: current
    st.sampled_from([1.0, 2.5, 2.5, 4.0]),  # scores with ties
)


@settings(max_examples=80, deadline=None)
@given(st.lists(VERSION, min_size=1, max_size=14))
def test_the_window_matches_its_definition(
    versions: list[tuple[int, int, int, int | None, float]],
) -> None:
    con = duckdb.connect(":memory:")
    try:
        con.execute(
            """CREATE TABLE links (row_id BIGINT, subject_id BIGINT, is_canary BOOLEAN,
                   score DOUBLE, confidence DOUBLE);
               CREATE TABLE scored (row_id BIGINT, subject_id BIGINT, version BIGINT,
                   valid_from TIMESTAMP, valid_to TIMESTAMP, is_canary BOOLEAN, score DOUBLE);
               INSERT INTO links VALUES (0, 0, false, 1, 1), (1, 1, false, 1, 1),
                   (2, 0, false, 1, 1)"""
        )
        for i, (row, person, start, days, score) in enumerate(versions):
            begin = T0 + dt.timedelta(days=start)
            end = None if days is None else begin + dt.timedelta(days=days)
            con.execute(
                "INSERT INTO scored VALUES (?, ?, ?, ?, ?, false, ?)",
                [row, person, i, begin, end, score],
            )
        expected = _window_by_definition(con)
        window = leak_window(con)
        if not expected[4]:
            assert window is None
            return
        assert window is not None
        latest_start, earliest_end, first_start, last_end, rows, superseded = expected
        assert (window["rows_dated"], window["rows_with_superseded_values"]) == (rows, superseded)

        def iso(value: object) -> str | None:
            assert value is None or isinstance(value, dt.datetime)
            return None if value is None else value.replace(tzinfo=dt.UTC).isoformat()

        if window["consistent"]:
            assert (window["from"], window["to"]) == (iso(latest_start), iso(earliest_end))
        else:
            assert (window["from"], window["to"]) == (iso(first_start), iso(last_end))
    finally:
        con.close()
