"""Which process runs the sequencer: one at a time per database, by a lease with a fence.

On PostgreSQL the seat is the single row of ``audit_sequencer_lease``: an **epoch** (the
fencing token) and an expiry, both on the database's clock, so hosts need not agree on
the time. A process takes the seat by bumping the epoch of an expired lease, and keeps
it by renewing before the expiry (every third of the lease). Every integrating
transaction starts with :meth:`Election.fence`: one ``UPDATE`` that renews the lease only
if the epoch is still this process's and the lease has not expired, and that keeps the
row locked until the commit. So:

- a process that dies (``kill -9``) or is paused (SIGSTOP, a long GC pause, a frozen VM)
  stops renewing; its lease expires and the next standby to ask takes over with the
  next epoch, within ``lease + a standby's poll`` seconds;
- a paused process caught *inside* a transaction holds the lease row (and the chain
  head) without ever committing: the standby that finds the lease expired yet locked
  ends that process's sequencer sessions (``pg_terminate_backend``; they are named
  ``vigie-sequencer <holder>``), which rolls the transaction back, and takes the seat.
  ``idle_in_transaction_session_timeout`` on those sessions is the backstop where the
  database role may not signal them;
- when the paused process resumes, its next integration fails on the fence
  (:class:`Fenced`): its epoch is no longer the row's, and nothing it had not committed
  before its lease ran out reaches the chain. It stands down and asks again like any
  standby.

A takeover cannot slip between a fence and its commit: the fence holds the lease row,
and taking the seat updates that row. Integration is exactly-once regardless
(:func:`vigie.audit.sequencer.integrate` moves rows under the chain-head lock and deletes
them in the same transaction); the fence is what keeps a deposed sequencer from acting
on a belief it can no longer check.

On SQLite there is one writer at a time anyway; every process that asks is elected and
the fence is a no-op.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from typing import Any

from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.exc import OperationalError

from vigie.errors import AuditFailure
from vigie.store.engine import make_engine

log = logging.getLogger(__name__)

LEASE_SECONDS = 3.0
"""How long a seat lasts without renewal (the default of ``audit_sequencer_lease_seconds``)."""
STUCK_FACTOR = 10
"""A sequencer session idle inside a transaction for this many leases is ended by PostgreSQL."""
APP_PREFIX = "vigie-sequencer "

_NOW = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::bigint"
_SEED = text(
    "INSERT INTO audit_sequencer_lease (id, epoch, holder, expires_us) "
    "VALUES (1, 0, '', 0) ON CONFLICT DO NOTHING"
)
_SEEDED = text("SELECT 1 FROM audit_sequencer_lease WHERE id = 1")
_WAIT = text("SET LOCAL lock_timeout = 300")
_TAKE = text(
    f"UPDATE audit_sequencer_lease SET epoch = epoch + 1, holder = :holder, "
    f"expires_us = {_NOW} + :lease WHERE id = 1 AND expires_us < {_NOW} RETURNING epoch"
)
_RENEW = text(
    f"UPDATE audit_sequencer_lease SET expires_us = {_NOW} + :lease "
    f"WHERE id = 1 AND epoch = :epoch AND expires_us >= {_NOW} RETURNING epoch"
)
_EVICT = text(
    "SELECT count(pg_terminate_backend(a.pid)) FROM pg_stat_activity a "
    "JOIN audit_sequencer_lease l ON l.id = 1 AND l.holder <> :holder "
    f"AND l.expires_us < {_NOW} AND a.application_name = :prefix || l.holder "
    "WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()"
)
_GIVE_UP = text("UPDATE audit_sequencer_lease SET expires_us = 0 WHERE id = 1 AND epoch = :epoch")


class Fenced(AuditFailure):
    """This process's lease has expired or another process holds the seat now."""


def holder_name() -> str:
    """Who holds the seat, for operators: ``host:pid:nonce`` (no personal data; the nonce
    tells apart two containers with the same host name and pid). It also names the
    sequencer's sessions, whose ``application_name`` PostgreSQL cuts at 63 bytes."""
    tail = f":{os.getpid()}:{secrets.token_hex(3)}"
    return socket.gethostname()[: 63 - len(APP_PREFIX) - len(tail)] + tail


def sequencer_engine(engine: Engine, *, holder: str, lease_seconds: float) -> Engine:
    """An engine of the sequencer's own, beside ``engine`` (same database): its sessions
    are named after ``holder`` (so a standby can end them, see the module) and are ended
    by PostgreSQL when idle in a transaction for :data:`STUCK_FACTOR` leases. On SQLite,
    ``engine`` itself (one writer; an in-memory database is not shared by a second engine)."""
    if engine.dialect.name != "postgresql":
        return engine
    own = make_engine(
        engine.url.render_as_string(hide_password=False),
        pool_size=2,
        max_overflow=2,
        connect_args={"application_name": APP_PREFIX + holder},
    )
    stuck_ms = max(1, int(lease_seconds * STUCK_FACTOR * 1000))

    @event.listens_for(own, "connect")
    def _backstop(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute(f"SET idle_in_transaction_session_timeout = {stuck_ms}")
        cur.close()
        dbapi_conn.commit()

    return own


class Election:
    """The sequencer's seat: :meth:`hold` says whether this process has it (taking it if free)."""

    def __init__(
        self, engine: Engine, *, lease_seconds: float = LEASE_SECONDS, holder: str | None = None
    ) -> None:
        self.engine = engine
        self.lease_us = int(lease_seconds * 1_000_000)
        self.holder = holder or holder_name()
        self._seeded = False
        self.epoch: int | None = None
        """The fencing token of the seat this process holds (None: it holds none)."""

    @property
    def shared(self) -> bool:
        """Whether several processes may contend (PostgreSQL), or only one writes (SQLite)."""
        return self.engine.dialect.name == "postgresql"

    def hold(self) -> bool:
        """True if this process holds the seat now (renewed); tries to take it if it lapsed."""
        if not self.shared:
            return True
        try:
            with self.engine.connect() as conn:
                if self.epoch is not None:
                    if self._renew(conn):
                        conn.commit()
                        return True
                    conn.rollback()
                    log.warning("audit sequencer lease lost (epoch %d); standing by", self.epoch)
                    self.epoch = None
                taken = self._take(conn)
        except Exception:
            log.warning("audit sequencer election: database unreachable; standing by")
            self.epoch = None
            return False
        if taken is None:
            return False
        self.epoch = taken
        log.info("audit sequencer elected in this process (epoch %d)", taken)
        return True

    def _take(self, conn: Connection) -> int | None:
        """Take the seat if its lease expired; end a paused holder's stuck sessions first."""
        if not self._seeded:  # a plain read first: the insert would wait on a locked row
            if conn.execute(_SEEDED).first() is None:
                conn.execute(_SEED)
            conn.commit()
            self._seeded = True
        for attempt in (1, 2):
            conn.execute(_WAIT)
            try:
                taken = conn.execute(_TAKE, {"holder": self.holder, "lease": self.lease_us})
                epoch = taken.scalar()
                conn.commit()
                return None if epoch is None else int(epoch)
            except OperationalError:  # the row is locked: by a live holder, or a stuck one
                conn.rollback()
                if attempt == 2:
                    return None
                ended = conn.execute(_EVICT, {"holder": self.holder, "prefix": APP_PREFIX})
                n = int(ended.scalar() or 0)
                conn.commit()
                if not n:
                    return None
                log.warning("audit sequencer: ended %d session(s) of an expired holder", n)
        return None

    def fence(self, conn: Connection) -> None:
        """In a sequencer's transaction, first: renew the seat and keep it locked until the
        commit, or raise :class:`Fenced` if this process no longer holds it."""
        if not self.shared:
            return
        if self.epoch is None or not self._renew(conn):
            lost, self.epoch = self.epoch, None
            raise Fenced(f"audit sequencer fenced off: epoch {lost} no longer holds the lease")

    def _renew(self, conn: Connection) -> bool:
        found = conn.execute(_RENEW, {"lease": self.lease_us, "epoch": self.epoch})
        return found.scalar() is not None

    def release(self) -> None:
        """Give the seat up at once (the next standby need not wait for the expiry)."""
        epoch, self.epoch = self.epoch, None
        if epoch is None or not self.shared:
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(_GIVE_UP, {"epoch": epoch})
        except Exception:  # the lease expires by itself
            log.warning("audit sequencer: could not give the lease up; it will expire")
