"""SQLite transactions take the write lock at BEGIN (budgets and the chain rely on it)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from vigie.store.engine import make_engine, make_session_factory


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
