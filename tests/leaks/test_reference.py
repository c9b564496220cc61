"""Reading the registry for triage: every version of every person, whatever the values."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from vigie.audit.seals import REGISTRY, scan, state_digest
from vigie.leaks.reference import load_registry, load_sealed_registry
from vigie.registry.models import Subject, SubjectVersion

from .helpers import World


def test_values_holding_line_breaks_or_separators_keep_their_row(
    world: World, engine: Engine, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """The SQLite copy streams values as they are; a value that would break a line starts
    it again with those characters as spaces, and no row is lost or shifted."""
    target = next(i for i in sorted(set(world.people) - world.canaries) if world.people[i].email)
    with sessions.begin() as session:
        person = session.get(Subject, target)
        assert person is not None
        person.address_line = "12 rue\nde la\x1fPaix\rbis"
        email = person.email
    with sessions() as session:
        people = session.scalar(select(func.count()).select_from(Subject))
        versions = session.scalar(select(func.count()).select_from(SubjectVersion))
    con = duckdb.connect()
    with engine.connect() as conn:
        assert load_registry(con, conn, tmp_path) == people
    assert con.execute("SELECT count(*) FROM reg").fetchall()[0][0] == people + (versions or 0)
    address, mail = con.execute(
        "SELECT address_line, email_n FROM reg WHERE subject_id = ? AND valid_to IS NULL",
        [target],
    ).fetchall()[0]
    assert " ".join(address.split()) == "12 rue de la Paix bis"
    assert email and mail == email.lower()


def test_ordinary_values_load_on_the_fast_path(
    world: World, engine: Engine, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with sessions() as session:
        people = session.scalar(select(func.count()).select_from(Subject))
    con = duckdb.connect()
    with engine.connect() as conn:
        assert load_registry(con, conn, tmp_path) == people
    refs = {r for (r,) in con.execute("SELECT DISTINCT ref FROM reg").fetchall()}
    assert refs == {p.ref for p in world.people.values()}


def _tables(load: Callable[[duckdb.DuckDBPyConnection], object]) -> tuple[object, list[Any]]:
    con = duckdb.connect()
    got = load(con)
    rows = con.execute("SELECT * FROM reg ORDER BY ALL").fetchall()
    return got, rows + con.execute("SELECT * FROM reg_freq ORDER BY ALL").fetchall()


@pytest.mark.parametrize("awkward", [False, True])
def test_the_sealed_copy_reads_the_same_rows_and_the_seals_state(
    world: World, engine: Engine, sessions: sessionmaker[Session], tmp_path: Path, awkward: bool
) -> None:
    """The snapshot's copy with the rows' state hashed in the same read (on SQLite) builds
    the tables the copy alone builds, and the state is the seals' (``scan``) — also when a
    value breaks the line format and both are read again the slower ways."""
    if awkward:
        target = min(set(world.people) - world.canaries)
        with sessions.begin() as session:
            person = session.get(Subject, target)
            assert person is not None
            person.address_line = "12 rue\nde la\x1fPaix\rbis"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with engine.connect() as conn:
        plain = _tables(lambda con: load_registry(con, conn, tmp_path / "a"))
        sealed = _tables(lambda con: load_sealed_registry(con, conn, tmp_path / "b"))
        digests, _rows = scan(conn.connection.dbapi_connection, engine.dialect.name, REGISTRY)
    assert sealed == ((plain[0], state_digest(REGISTRY, digests)), plain[1])
    assert len(plain[1]) > len(world.people)
