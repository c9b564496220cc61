"""Engine and session factory for SQLite (WAL, foreign keys on) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from vigie.store import pipeline

SQLITE_BUSY_TIMEOUT_MS = 30_000
PING_AFTER_IDLE_SECONDS = 1.0
"""A pooled PostgreSQL connection idle longer than this is pinged before it is used."""


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
    engine = create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        ping_when_idle(engine, after=PING_AFTER_IDLE_SECONDS)
    pipeline.install(engine)
    return engine


def ping_when_idle(engine: Engine, *, after: float) -> None:
    """Ping a pooled connection at checkout only if it sat idle in the pool over ``after``
    seconds; a dead one is replaced before anyone uses it.

    SQLAlchemy's ``pool_pre_ping`` pings at every checkout: one more round trip per
    transaction (the gateway runs one transaction per request: a millisecond on a 1 ms
    link, and the ping's own CPU on both ends). A connection that went back to the pool
    a moment ago was working then; the connections that die are the idle ones (a server
    restarted, a firewall's or ``idle_session_timeout``'s cut), and those are pinged. One
    that dies while in use fails its request, which rolls back (fail closed), and
    SQLAlchemy then discards the pool's older connections.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["vigie_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("vigie_idle_since")  # None: a connection just opened
        if since is None or time.monotonic() - since <= after:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # the pool opens another connection and tries again
            raise DisconnectionError("a pooled connection was dead after sitting idle") from exc


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
