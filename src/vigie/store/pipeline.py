"""A PostgreSQL transaction's BEGIN sent with its first statements, its last writes with
its COMMIT: two round trips fewer per transaction (psycopg's pipeline mode).

psycopg opens a transaction by sending ``BEGIN`` and waiting for the answer (in pipeline
mode too: it syncs right after the ``BEGIN``), and SQLAlchemy commits by sending
``COMMIT`` and waiting. A gateway request that needs three exchanges with the server
paid five; on a 1 ms link each one is a millisecond of latency, and each costs CPU on
both ends. With the listeners of :func:`install` on the engine:

- :func:`open_in_pipeline`, called by :meth:`vigie.store.raw.Cursor.together` when the
  connection has no transaction open yet, makes ``BEGIN`` the first statement of the
  pipeline that carries the transaction's first statements. To send it itself, it
  switches the idle driver connection to psycopg's autocommit mode, in which psycopg adds
  no ``BEGIN`` of its own; the ``BEGIN`` sent opens the transaction all the same, and the
  statements that follow run in it exactly as they would otherwise.
- :func:`send_with_commit` queues a write that nothing later in the transaction reads
  back (the gateway's audit staging insert); when SQLAlchemy commits, the queued writes
  and the ``COMMIT`` go in one pipeline. A queued write is as durable as one executed at
  once: committed with the transaction or not at all. If it fails, the commit fails
  (the error is the one the write's ``failure`` makes) and the transaction rolls back.
  A rollback drops the queue.
- :func:`alone` runs a statement in a transaction of its own, before the session's
  (psycopg's autocommit, for the statement only): one round trip, no ``BEGIN`` nor
  ``COMMIT``.

The listeners commit or roll back a transaction opened that way when SQLAlchemy does
(psycopg's ``commit()``/``rollback()`` would otherwise see autocommit and do nothing),
and switch the connection out of autocommit once it is idle again: at that commit or
rollback, and at check-in whatever happened, so a pooled connection never goes back to
the pool in autocommit. Engines without the listeners (SQLite, or one made otherwise)
keep the usual path: :func:`open_in_pipeline` returns False, :func:`send_with_commit`
returns False and the caller executes the write at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, event

_READY = "vigie_pipeline"  # on a pooled connection's info: the listeners are installed
_OPENED = "vigie_opened"  # the transaction was opened by our own BEGIN (autocommit on)
_QUEUED = "vigie_with_commit"  # writes to send with the COMMIT

Failure = Callable[[Exception], Exception]


def install(engine: Engine) -> None:
    """Let ``engine``'s connections fold BEGIN and COMMIT into pipelines (PostgreSQL)."""
    if engine.dialect.name != "postgresql":
        return
    event.listen(engine, "connect", _connected)
    event.listen(engine, "commit", _commit)
    event.listen(engine, "rollback", _rollback)
    event.listen(engine, "checkin", _checked_in)


def open_in_pipeline(connection: Connection) -> bool:
    """Whether the caller's pipeline must begin with ``BEGIN`` (the transaction is not
    open yet and the engine folds it); if so, psycopg will not send one of its own."""
    info = connection.info
    if not info.get(_READY) or info.get(_OPENED):
        return False
    driver = connection.connection.driver_connection
    if driver is None or driver.pgconn.transaction_status != _IDLE or driver.autocommit:
        return False
    if driver.isolation_level is not None or driver.read_only is not None:
        return False  # psycopg's BEGIN would carry options: let it send its own
    driver.autocommit = True
    info[_OPENED] = True
    return True


def send_with_commit(
    connection: Connection, sql: str, params: Sequence[Any], *, failure: Failure
) -> bool:
    """Queue ``sql`` (driver style, parameters bound) to go with the transaction's COMMIT.

    Returns False, queuing nothing, where the engine cannot (no listeners) or inside a
    savepoint (whose rollback must undo the write): the caller executes it at once.
    """
    info = connection.info
    if not info.get(_READY) or connection.in_nested_transaction():
        return False
    info.setdefault(_QUEUED, []).append((sql, params, failure))
    return True


@contextmanager
def alone(connection: Connection) -> Iterator[bool]:
    """Run the block's statements each in an implicit transaction of its own, committed
    as it ends (psycopg's autocommit: no ``BEGIN``, no ``COMMIT``, one round trip for a
    statement), if ``connection`` has no transaction open on the server yet; yields
    whether it does. The connection is switched back as the block ends, so statements
    after it open a transaction as usual (psycopg's own ``BEGIN``), which the session's
    commit commits; a session with nothing else to commit then sends no ``COMMIT``.

    Only for a write that must stand whatever the rest of the transaction does (detection's
    record of a request already committed, :mod:`vigie.detection.record_sql`).
    """
    info = connection.info
    driver = connection.connection.driver_connection
    free = (
        info.get(_READY)
        and not info.get(_OPENED)
        and not info.get(_QUEUED)
        and not connection.in_nested_transaction()
        and driver is not None
        and driver.pgconn.transaction_status == _IDLE
        and not driver.autocommit
        and driver.isolation_level is None
        and driver.read_only is None
    )
    if not free:
        yield False
        return
    assert driver is not None
    driver.autocommit = True
    try:
        yield True
    finally:
        try:
            driver.autocommit = False
        except psycopg.Error:  # broken mid-statement: never back to the pool in autocommit
            connection.invalidate()


_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE


def _connected(_dbapi: Any, record: Any) -> None:
    record.info[_READY] = True


def _commit(connection: Connection) -> None:
    """Before SQLAlchemy's commit: send the queued writes with a COMMIT, or commit the
    transaction our BEGIN opened; SQLAlchemy's own commit then finds nothing to do."""
    info = connection.info
    queued = info.pop(_QUEUED, None)
    opened = info.get(_OPENED, False)
    if not queued and not opened:
        return
    driver = connection.connection.driver_connection
    assert driver is not None
    try:
        if queued:
            _commit_with(driver, queued)
        else:
            driver.commit()
    finally:
        _settle(driver, info)


def _commit_with(driver: Any, queued: list[tuple[str, Sequence[Any], Failure]]) -> None:
    cursor = driver.cursor()
    try:
        # COMMIT as a statement of the pipeline: psycopg's commit() would sync once more
        # (a round trip) before the pipeline's own sync at its end.
        with driver.pipeline():
            for sql, params, _failure in queued:
                cursor.execute(sql, params)
            cursor.execute(b"COMMIT")
    except psycopg.Error as exc:
        raise queued[0][2](exc) from exc
    finally:
        cursor.close()


def _rollback(connection: Connection) -> None:
    """Before SQLAlchemy's rollback: drop the queue; roll back what our BEGIN opened."""
    info = connection.info
    info.pop(_QUEUED, None)
    if not info.get(_OPENED):
        return
    driver = connection.connection.driver_connection
    assert driver is not None
    try:
        driver.rollback()
    finally:
        _settle(driver, info)


def _checked_in(dbapi: Any, record: Any) -> None:
    """Whatever happened, a connection goes back to the pool out of autocommit."""
    record.info.pop(_QUEUED, None)
    if record.info.get(_OPENED) and dbapi is not None:
        if dbapi.pgconn.transaction_status != _IDLE:
            dbapi.rollback()
        _settle(dbapi, record.info)


def _settle(driver: Any, info: dict[str, Any]) -> None:
    """Back out of autocommit once the transaction our BEGIN opened has ended."""
    if driver.pgconn.transaction_status == _IDLE and not driver.closed:
        driver.autocommit = False
        info.pop(_OPENED, None)
