"""SQLite transactions take the write lock at BEGIN (budgets and the chain rely on it)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from vigie.store.engine import make_engine, make_read_engine, make_session_factory


def test_sqlite_transactions_take_the_write_lock_at_begin(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    engine = make_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    other = sqlite3.connect(db, timeout=0.05, isolation_level=None)
    with make_session_factory(engine).begin() as session:
        session.connection()  # begun, nothing written yet
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("INSERT INTO t VALUES (1)")
    other.execute("INSERT INTO t VALUES (1)")  # free again once the transaction ended
    other.close()
    engine.dispose()


def test_read_engine_leaves_writers_free_and_refuses_writes(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    engine = make_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    reader = make_read_engine(f"sqlite:///{db}")
    other = sqlite3.connect(db, timeout=0.05, isolation_level=None)
    with make_session_factory(reader).begin() as session:
        assert session.execute(text("SELECT count(*) FROM t")).scalar() == 0
        other.execute("INSERT INTO t VALUES (1)")  # not blocked by the long read
        with pytest.raises(OperationalError, match="readonly"):
            session.execute(text("INSERT INTO t VALUES (2)"))
    other.close()
    reader.dispose()
    engine.dispose()
