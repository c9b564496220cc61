"""What "ready" means for a listener backed by the store: the checks of ``/ready``.

Each check raises when its condition does not hold (:class:`vigie.http.probes.ReadyCheck`):

- ``store``: the database answers a ``SELECT 1`` (on the driver, outside any transaction);
- ``audit``: a write transaction can lock the audit trail's head — what every disclosure
  must do before it is answered — and is rolled back at once (PostgreSQL waits at most
  ``LOCK_TIMEOUT`` for a writer; SQLite its busy timeout). A read-only replica, a full
  disk on SQLite's lock, a lost head row all fail it;
- ``secrets``: the instance secrets are loaded (the master key has its 32 bytes and the
  checkpoint signing key signs).
"""

from __future__ import annotations

from sqlalchemy import Engine

from vigie.audit.trail import lock_head
from vigie.http.probes import ReadyCheck
from vigie.secrets import InstanceSecrets

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


def audit_writable(engine: Engine) -> ReadyCheck:
    """The audit trail's head can be locked for writing (then released untouched)."""

    def run() -> None:
        with engine.connect() as conn:
            transaction = conn.begin()
            try:
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                lock_head(conn)
            finally:
                transaction.rollback()

    return ReadyCheck("audit", run)


def secrets_loaded(secrets: InstanceSecrets) -> ReadyCheck:
    """The instance secrets are loaded and the signing key works."""

    def run() -> None:
        if len(secrets.master.reveal()) < 32:
            raise ValueError("the instance key is short")
        secrets.signing_key.sign(b"vigie readiness")

    return ReadyCheck("secrets", run)


def store_checks(engine: Engine, secrets: InstanceSecrets) -> list[ReadyCheck]:
    """The checks of a listener that discloses or records: store, audit, secrets."""
    return [store_answers(engine), audit_writable(engine), secrets_loaded(secrets)]
