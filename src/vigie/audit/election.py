"""Which process runs the sequencer: one at a time per database, elected through it.

On PostgreSQL the elected process holds a session-level advisory lock on a connection of
its own (keyed by the schema, so that instances sharing a database do not elect each
other). The lock lives exactly as long as that connection: if the process dies, even by
``kill -9``, its backend sees the socket close and releases the lock, and the next
standby to ask (every second at most) takes over. A paused process (SIGSTOP) keeps the
lock: integration waits, the requests do not (they only stage), and the wait shows in
``vigie_audit_pending_age_seconds`` and in ``vigie audit verify``.

Correctness does not rest on the election: :func:`vigie.audit.sequencer.integrate` locks
the chain head, so two processes that both believe they are elected only take turns.

On SQLite there is one writer at a time anyway; every process that asks is elected.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Engine

log = logging.getLogger(__name__)

LOCK_CLASS = 0x56_69_67  # "Vig": the first key of the advisory lock; the second is the schema's
_TRY = "SELECT pg_try_advisory_lock(%s, hashtext(current_schema()))"


class Election:
    """The sequencer's seat: :meth:`hold` says whether this process has it (taking it if free)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Any = None  # the pooled connection that holds the lock, kept out of the pool

    @property
    def shared(self) -> bool:
        """Whether several processes may contend (PostgreSQL), or only one writes (SQLite)."""
        return self.engine.dialect.name == "postgresql"

    def hold(self) -> bool:
        """True if this process holds the seat now; tries to take it if nobody does."""
        if not self.shared:
            return True
        try:
            if self._conn is not None:
                cur = self._conn.cursor()
                cur.execute("SELECT 1")  # still alive, so still ours
                cur.close()
                return True
            conn = self.engine.raw_connection()
            conn.driver_connection.autocommit = True  # type: ignore[union-attr]
            cur = conn.cursor()
            cur.execute(_TRY, (LOCK_CLASS,))
            row = cur.fetchone()
            cur.close()
            if row is not None and row[0]:
                self._conn = conn
                log.info("audit sequencer elected in this process")
                return True
            conn.invalidate()  # closed, not pooled: its session may have seen the lock
            return False
        except Exception:
            log.warning("audit sequencer election: connection lost; standing down")
            self.release()
            return False

    def release(self) -> None:
        """Give the seat up (closing the connection releases the lock)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()  # closes the connection, and with it the session's lock
            except Exception:  # already gone: the lock went with it
                log.debug("election connection already closed")
