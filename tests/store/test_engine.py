"""SQLite transactions take the write lock at BEGIN (budgets and the chain rely on it);
PostgreSQL connections are pinged only after idling in the pool."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from tests.conftest import PG_URL, postgres_available
from vigie.store import engine as engine_module
from vigie.store.engine import make_engine, make_read_engine, make_session_factory, ping_when_idle


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


def _pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(pid: int) -> None:
    admin = create_engine(PG_URL, poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
    admin.dispose()


@pytest.fixture
def pg() -> None:
    if not postgres_available():
        pytest.skip("PostgreSQL unreachable")


@pytest.mark.usefixtures("pg")
def test_a_connection_dead_after_idling_is_replaced_before_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_SECONDS", 0.0)
    engine = make_engine(PG_URL, pool_size=1, max_overflow=0)
    first = _pid(engine)
    _terminate(first)  # as a server restart or an idle timeout would
    assert _pid(engine) != first  # no error: pinged, found dead, replaced
    engine.dispose()


@pytest.mark.usefixtures("pg")
def test_a_connection_used_a_moment_ago_is_not_pinged() -> None:
    """No ping round trip for a connection just back in the pool: killed behind the
    pool's back, it fails its next use (rolled back), and the pool then replaces it."""
    engine = create_engine(PG_URL, pool_size=1, max_overflow=0)
    ping_when_idle(engine, after=3600)
    first = _pid(engine)
    _terminate(first)
    with pytest.raises(OperationalError):
        _pid(engine)
    assert _pid(engine) != first
    engine.dispose()
