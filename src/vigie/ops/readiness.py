"""What "ready" means for a listener backed by the store: the checks of ``/ready``.

Each check raises when its condition does not hold (:class:`vigie.http.probes.ReadyCheck`):

- ``store``: the database answers a ``SELECT 1`` (on the driver, outside any transaction);
- ``audit``: a write transaction can do what the listener's requests do to the audit
  trail before they are answered, and is rolled back at once: lock the trail's head, or
  for a gateway that stages its events (PostgreSQL ``vigie serve``,
  :mod:`vigie.audit.sequencer`) insert into ``audit_pending`` — so that a sequencer
  paused while it holds the head does not take every gateway host out of rotation.
  PostgreSQL waits at most ``LOCK_TIMEOUT`` for a writer; SQLite does not wait: its one
  write lock held by another writer means the file is being written, which passes. A
  read-only replica or file, a missing table, a database that refuses the lock fail it;
- ``secrets``: the instance secrets are loaded (the master key has its 32 bytes and the
  checkpoint signing key signs).
"""

from __future__ import annotations

import sqlite3

from sqlalchemy import Engine

from vigie.audit.trail import lock_head
from vigie.http.probes import ReadyCheck
from vigie.secrets import InstanceSecrets
from vigie.store.engine import SQLITE_BUSY_TIMEOUT_MS, is_sqlite

LOCK_TIMEOUT = "2s"


def store_answers(engine: Engine) -> ReadyCheck:
    """The database answers."""

    def run() -> None:
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
        finally:
            raw.close()

    return ReadyCheck("store", run)


_PROBE_PENDING = (
    "INSERT INTO audit_pending (at_us, actor, action, subjects, fields, outcome) "
    "VALUES (0, 'system:ready', 'ready:probe', '', '', 'probe')"
)


def audit_writable(engine: Engine, *, staged: bool = False) -> ReadyCheck:
    """The audit trail can be written as the requests write it (then rolled back).

    ``staged``: the requests stage their events, so the probe inserts a pending row
    instead of locking the head (see the module docstring).
    """

    def run() -> None:
        if is_sqlite(engine):
            _sqlite_writable(engine)
            return
        with engine.connect() as conn:
            transaction = conn.begin()
            try:
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                if staged:
                    conn.exec_driver_sql(_PROBE_PENDING)
                else:
                    lock_head(conn)
            finally:
                transaction.rollback()

    return ReadyCheck("audit", run)


def _sqlite_writable(engine: Engine) -> None:
    """SQLite's one write lock, taken without waiting: busy means a writer holds it, so the
    file is being written (under load the gateway holds it most of the time, and a probe
    queueing behind it would time out). Read-only, missing or broken fails."""
    raw = engine.raw_connection()
    driver = raw.driver_connection
    try:
        assert isinstance(driver, sqlite3.Connection)
        driver.execute("PRAGMA busy_timeout = 0")
        try:
            driver.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                return
            raise
        try:
            moved = driver.execute("UPDATE audit_head SET size = size WHERE id = 1").rowcount
            if moved != 1:  # a trail not yet begun: its first append inserts the head
                driver.execute(
                    "INSERT INTO audit_head (id, size, head_hash) VALUES (1, 0, zeroblob(32))"
                )
        finally:
            driver.execute("ROLLBACK")
    finally:
        if isinstance(driver, sqlite3.Connection):
            driver.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        raw.close()


def secrets_loaded(secrets: InstanceSecrets) -> ReadyCheck:
    """The instance secrets are loaded and the signing key works."""

    def run() -> None:
        if len(secrets.master.reveal()) < 32:
            raise ValueError("the instance key is short")
        secrets.signing_key.sign(b"vigie readiness")

    return ReadyCheck("secrets", run)


def store_checks(
    engine: Engine, secrets: InstanceSecrets, *, staged: bool = False
) -> list[ReadyCheck]:
    """The checks of a listener that discloses or records: store, audit, secrets."""
    return [store_answers(engine), audit_writable(engine, staged=staged), secrets_loaded(secrets)]
