"""The SQLite writer thread's connection, kept from one transaction to the next.

On SQLite the gateway's requests run in one writer thread (:mod:`vigie.gateway.unit`).
Through a fresh ORM session per transaction (``sessionmaker.begin()``) a transaction's
begin and commit cost about 90 µs of CPU before any statement runs — checking a
connection out of the pool and back, the session's and its transaction's state
machines — and every ``session.connection()`` some 10 µs more; the statements
themselves already go to the driver's cursor (:mod:`vigie.store.raw`) at about 1–5 µs
each. :class:`WriterConnection` keeps one connection checked out for the writer and
runs each transaction on it: ``BEGIN IMMEDIATE`` and ``COMMIT`` through SQLAlchemy Core's
transaction (so the engine's ``begin`` / ``commit`` / ``rollback`` events fire as for any
other: the SQLite write lock taken at ``BEGIN``, the audit checkpointer's watch), and a
plain :class:`~sqlalchemy.orm.Session` bound to it for the few callers that use the ORM
(a write-back's row, the detectors' ``admit``), whose hot statements find the driver
cursor at once (:func:`vigie.store.raw.pin`). About 20 µs per transaction in all.

Nothing else changes: one transaction per request or group, rolled back whole if
anything raises (the session's own ``rollback``, as the audit trail calls on a failure,
rolls it back too), committed only when the block ends without error. After a failure
the connection goes back to the pool and the next transaction takes another.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from vigie.store import raw


class WriterConnection:
    """One connection of ``engine`` kept for a writer thread's transactions, one at a time.

    Callers serialise their transactions (the writer thread, under
    :class:`vigie.gateway.serial.WriterQueue`'s turn). :meth:`close` gives the connection
    back; so does the object's collection (and the interpreter's exit).
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Connection | None = None
        self._release: weakref.finalize[[], WriterConnection] | None = None

    @contextmanager
    def begin(self) -> Iterator[Session]:
        """A session in a new transaction on the kept connection; committed when the block
        ends, rolled back (and the connection given back) if it raises."""
        conn = self._connection()
        try:
            transaction = conn.begin()  # SQLite's BEGIN IMMEDIATE may time out on the lock
        except BaseException:
            self.close()
            raise
        session = Session(bind=conn, join_transaction_mode="rollback_only")
        raw.pin(session, conn)
        try:
            yield session
            session.flush()  # what the ORM added (a write-back's row) is written first
            transaction.commit()
        except BaseException:
            try:
                if transaction.is_active:
                    transaction.rollback()
            finally:
                self.close()
            raise
        finally:
            session.close()

    def close(self) -> None:
        """Give the kept connection back to the pool (the next transaction takes one)."""
        if self._release is not None:
            self._release()
        self._conn = self._release = None

    def _connection(self) -> Connection:
        conn = self._conn
        if conn is None or conn.closed or conn.invalidated:
            self.close()
            conn = self._conn = self._engine.connect()
            self._release = weakref.finalize(self, conn.close)
        return conn
