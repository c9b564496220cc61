"""A request's transaction on a SQLAlchemy Core connection, with a session bound to it.

Through a fresh ORM session per transaction (``sessionmaker.begin()``) a transaction's
begin and commit cost some 70–90 µs of CPU before any statement runs — the session's and
its transaction's state machines, the pool checkout and check-in — and every
``session.connection()`` some 10 µs more; the gateway's statements themselves go to the
driver's cursor (:mod:`vigie.store.raw`). :func:`on` runs the transaction as a Core
transaction on a connection instead (so the engine's ``begin`` / ``commit`` /
``rollback`` events fire as for any other: SQLite's ``BEGIN IMMEDIATE``, PostgreSQL's
folded ``BEGIN`` and the audit staging insert sent with the ``COMMIT``
(:mod:`vigie.store.pipeline`), the audit checkpointer's watch), with a plain
:class:`~sqlalchemy.orm.Session` bound to it for the few callers that use the ORM (a
write-back's row, the detectors' ``admit``), whose hot statements find the driver cursor
at once (:func:`vigie.store.raw.pin`).

- :func:`on`: on a connection the caller holds (the SQLite writer thread keeps one,
  :class:`vigie.gateway.writer.WriterConnection`);
- :func:`pooled`: on a connection checked out of the engine's pool for the transaction
  and given back after it (PostgreSQL's request threads, :mod:`vigie.gateway.unit`: as
  many threads as requests in flight, fewer pooled connections, so none is kept).

Nothing else changes: one transaction, rolled back whole if anything raises (the
session's own ``rollback``, as the audit trail calls on a failure, rolls it back too),
committed only when the block ends without error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from vigie.store import raw


@contextmanager
def on(conn: Connection) -> Iterator[Session]:
    """A session in a new transaction on ``conn``; committed when the block ends, rolled
    back if it raises (the caller decides what becomes of ``conn`` then)."""
    transaction = conn.begin()  # SQLite's BEGIN IMMEDIATE may time out on the lock
    session = Session(bind=conn, join_transaction_mode="rollback_only")
    raw.pin(session, conn)
    try:
        yield session
        session.flush()  # what the ORM added (a write-back's row) is written first
        transaction.commit()
    except BaseException:
        if transaction.is_active:
            transaction.rollback()
        raise
    finally:
        session.close()


@contextmanager
def pooled(engine: Engine) -> Iterator[Session]:
    """:func:`on` a connection of ``engine``'s pool, given back when the block ends."""
    with engine.connect() as conn, on(conn) as session:
        yield session
