"""Engine and session factory for SQLite (WAL, foreign keys on) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy handle transactions explicitly (BEGIN emitted on first use).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    # Writers take the write lock at BEGIN, so two workers never deadlock upgrading
    # a read transaction to a write one (the audit chain and budgets rely on this).
    # On the driver itself: through exec_driver_sql this costs a fifth of a gateway read's
    # transaction overhead, on every transaction.
    conn.connection.driver_connection.execute("BEGIN IMMEDIATE")


def is_sqlite(engine: Engine) -> bool:
    """Whether the engine talks to SQLite."""
    return engine.dialect.name == "sqlite"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and immediate transactions."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def make_read_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for long reads that must not hold SQLite's write lock meanwhile.

    On SQLite its transactions begin deferred (a read snapshot, as WAL readers take) and
    ``query_only`` refuses any write; a leak analysis reading the registry for minutes
    through it leaves writers free (its own job's progress among them). Elsewhere it is
    :func:`make_engine`'s engine: PostgreSQL readers never block writers.
    """
    if not url.startswith("sqlite"):
        return make_engine(url, **kwargs)
    engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "connect", _sqlite_query_only)
    event.listen(engine, "begin", _sqlite_begin_deferred)
    return engine


def _sqlite_query_only(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.execute("PRAGMA query_only=ON")


def _sqlite_begin_deferred(conn: Any) -> None:
    conn.connection.driver_connection.execute("BEGIN")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Session factory; objects stay usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)
