"""The sequencer: moves committed, unsequenced events onto the chain, in batches.

The gateway commits each request's events durably in ``audit_pending``
(:func:`vigie.audit.trail.stage`) without taking a lock that other processors share.
:func:`integrate` then takes a batch of those rows, in one transaction: it locks the
chain head, chains the rows after it (sequence numbers, previous and entry hashes, the
served index — :func:`vigie.audit.trail.sequence_rows`, the code every append runs) and
deletes them from ``audit_pending``. A row is therefore on the chain exactly once or
still pending: a sequencer killed midway leaves its transaction rolled back, and two
sequencers running at once (a lease lapsed) are serialised by the head lock, the second
seeing only what the first left.

Exactly one sequencer is meant to run per instance (:mod:`vigie.audit.election`); it is
also the one that signs checkpoints. Everything that reads the trail as evidence —
``vigie audit verify --integrate``, proofs, exports, the gate of attribution and dating
(:func:`vigie.audit.evidence.require_verified`) — calls :func:`integrate_all` first, so a
pending tail is integrated before it is relied on (or refused with the trail).

:func:`pending` tells how many rows wait and since when; ``vigie audit verify`` reports
a row left pending past ``audit_max_pending_seconds`` as a failing sequencer.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from vigie.audit import trail
from vigie.audit.checkpoints import Checkpointer
from vigie.audit.election import LEASE_SECONDS, Election, Fenced, holder_name, sequencer_engine
from vigie.errors import AuditFailure
from vigie.ops import metrics
from vigie.ops.logs import Code
from vigie.store import raw
from vigie.store.engine import make_session_factory

log = logging.getLogger(__name__)

BATCH = 5_000
"""Most pending rows integrated in one transaction."""
LOOK_EVERY = 1.0
"""Seconds between the sequencer's looks at the backlog's size and the checkpoint due."""

_COLUMNS = (
    "at_us, actor, processor_id, key_id, origin, action, purpose, subjects, fields, outcome, detail"
)
# Taken and deleted in one statement (the head lock keeps other integrators out); the
# rows come back in no particular order and are sorted by id.
_TAKE = raw.Statement(
    "DELETE FROM audit_pending WHERE id IN (SELECT id FROM audit_pending ORDER BY id LIMIT ?) "
    f"RETURNING id, {_COLUMNS}"
)
_PENDING = raw.Statement("SELECT COUNT(*), MIN(at_us) FROM audit_pending")
_OLDEST = raw.Statement("SELECT at_us FROM audit_pending ORDER BY id LIMIT 1")  # the PK index


@dataclass(frozen=True)
class Pending:
    """Committed events not yet on the chain: how many, and the oldest one's time."""

    events: int
    oldest_us: int | None

    def age_seconds(self, now_us: int) -> float:
        """How long the oldest pending event has waited (0 when none waits)."""
        return 0.0 if self.oldest_us is None else max(0, now_us - self.oldest_us) / 1_000_000


@contextmanager
def _acyclic() -> Iterator[None]:
    """Pause the cyclic garbage collector over a batch: the batch builds tens of thousands
    of tuples and lists, all acyclic and freed by reference counting, which set off
    collections that scan the whole heap for nothing (a third of the integrator's CPU per
    event, measured). Collection resumes, and catches up, right after."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def integrate(session: Session, *, limit: int = BATCH, election: Election | None = None) -> int:
    """Chain up to ``limit`` pending events in the caller's transaction; return how many.

    The elected sequencer passes its ``election``: the transaction then starts with its
    fence, and raises :class:`Fenced` (after rolling back) if the seat is no longer its own.
    Then it locks the chain head, so the rows read are exactly those no other integrator
    has taken. Raises :class:`AuditFailure` (after rolling back) if it cannot.
    """
    started = time.perf_counter()
    try:
        conn = session.connection()
        if election is not None:
            election.fence(conn)
        cursor = raw.cursor_of(conn)
        trail.lock_head(conn)
        # An index probe first: the take is a write, refused on a read-only connection
        # (SQLite's reader) even when nothing waits, and nothing waits on SQLite.
        if cursor.one(_OLDEST) is None:
            return 0
        with _acyclic():
            rows = cursor.all(_TAKE, (limit,))
        if not rows:
            return 0
        rows.sort()  # by id: the order they were staged in, as far as ids tell
        with _acyclic():
            trail.sequence_rows(cursor, conn, [r[1:] for r in rows])
        oldest_us = min(r[1] for r in rows)
    except Fenced:
        session.rollback()
        raise
    except SQLAlchemyError as exc:
        session.rollback()
        raise AuditFailure(f"cannot integrate pending audit events: {type(exc).__name__}") from exc
    metrics.AUDIT_INTEGRATED.inc(len(rows))
    metrics.AUDIT_INTEGRATE.observe(time.perf_counter() - started)
    metrics.AUDIT_INTEGRATION_DELAY.observe(max(0, time.time_ns() // 1000 - oldest_us) / 1e6)
    return len(rows)


def integrate_all(engine: Engine, *, limit: int = BATCH, election: Election | None = None) -> int:
    """Integrate every event pending now, batch after batch; return how many."""
    done = 0
    while True:
        with Session(engine) as session, session.begin():
            n = integrate(session, limit=limit, election=election)
        done += n
        if n < limit:
            return done


def oldest_pending_us(session: Session) -> int | None:
    """The time of the first pending event (None: nothing waits); one index probe, cheap
    whatever the backlog, unlike :func:`pending`'s count."""
    row = raw.cursor(session).one(_OLDEST)
    return None if row is None else int(row[0])


def pending(session: Session) -> Pending:
    """How many committed events wait for the sequencer, and the oldest one's time."""
    row = raw.cursor(session).one(_PENDING)
    assert row is not None
    return Pending(events=int(row[0]), oldest_us=None if row[1] is None else int(row[1]))


class SequencerService:
    """The sequencer of a process: integrates and signs while elected.

    On PostgreSQL it works through an engine of its own beside ``engine``
    (:func:`vigie.audit.election.sequencer_engine`: sessions a standby can end if this
    process is paused inside a transaction). A daemon thread runs a round every ``poll``
    seconds while elected, renewing its lease every third of ``lease_seconds``; a standby
    asks for the seat every ``10 × poll`` seconds (at most one). A round integrates every
    pending batch, each fenced, exports the backlog (``vigie_audit_pending_*``) and lets
    the checkpointer sign a checkpoint when one is due, fenced too. A round that finds
    itself fenced off stands down at once. :meth:`stop` integrates what is left and signs
    a last checkpoint if it was elected, so a server stopped cleanly leaves no tail; then
    it gives the seat up. A failed round is logged and retried (the backlog's age shows it).
    """

    def __init__(
        self,
        engine: Engine,
        checkpointer: Checkpointer,
        *,
        poll: float = 0.05,
        batch: int = BATCH,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        holder = holder_name()
        self.engine = sequencer_engine(engine, holder=holder, lease_seconds=lease_seconds)
        self._own_engine = self.engine is not engine
        self.election = Election(self.engine, lease_seconds=lease_seconds, holder=holder)
        self.checkpointer = dataclasses.replace(
            checkpointer, sessions=make_session_factory(self.engine), fence=self.election.fence
        )
        self.poll = poll
        self.batch = batch
        self.renew_every = lease_seconds / 3
        self.standby_poll = max(poll, min(1.0, poll * 10, self.renew_every))
        self.elected = threading.Event()
        """Set while this process holds the seat (as of the thread's last look)."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._looked = 0.0  # when the checkpointer last looked
        self._since_look = 0  # events integrated since

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="vigie-sequencer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        wait, asked = self.poll, 0.0
        while not self._stop.wait(wait):
            now = time.monotonic()
            if not self.elected.is_set() or now - asked >= self.renew_every:
                self._seat(self.election.hold())
                asked = now
            if self.elected.is_set():
                self.round(self.checkpointer)
            wait = self.poll if self.elected.is_set() else self.standby_poll

    def _seat(self, held: bool) -> None:
        if held and not self.elected.is_set():
            metrics.SEQUENCER_TAKEOVERS.inc()
            metrics.SEQUENCER_EPOCH.set(self.election.epoch or 0)
        (self.elected.set if held else self.elected.clear)()
        metrics.SEQUENCER_ACTIVE.set(1 if held else 0)

    def round(self, checkpointer: Checkpointer) -> int:
        """Integrate everything pending, export the backlog, checkpoint if due.

        An idle round costs one unlocked index probe (the oldest pending event); the
        backlog's count (a scan of ``audit_pending``) and the checkpointer's look come
        once every :data:`LOOK_EVERY` seconds, or as soon as the events integrated since
        the last look could make a checkpoint due by count (``every_events``). Looking
        after every busy round cost a session and two ORM queries up to 20 times a
        second under load; a checkpoint due by count comes at most a second later.
        """
        try:
            oldest = self._oldest()
            now_us = time.time_ns() // 1000
            metrics.AUDIT_PENDING_AGE.set(0 if oldest is None else max(0, now_us - oldest) / 1e6)
            done = (
                0
                if oldest is None
                else integrate_all(self.engine, limit=self.batch, election=self.election)
            )
            now = time.monotonic()
            self._since_look += done
            if now - self._looked >= LOOK_EVERY or self._since_look >= checkpointer.every_events:
                with Session(self.engine) as session:
                    metrics.AUDIT_PENDING.set(pending(session).events)
                self._looked, self._since_look = now, 0
                checkpointer.maybe_checkpoint()
        except Fenced:
            log.warning("audit sequencer fenced off: its lease expired or was taken over")
            self._seat(False)
            return 0
        except Exception as exc:  # a server keeps serving; verify shows the backlog
            log.error("audit sequencer round failed: %s", Code(type(exc).__name__))
            return 0
        return done

    def _oldest(self) -> int | None:
        """The oldest pending event's time, by one statement outside any transaction on
        PostgreSQL (one round trip, where a session's ``BEGIN``, probe and ``ROLLBACK``
        took three, 20 times a second); on SQLite in a session as before (a transaction
        there begins by taking the write lock, which autocommit would not change here)."""
        if self.engine.dialect.name != "postgresql":
            with Session(self.engine) as session:
                return oldest_pending_us(session)
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            row = raw.cursor_of(conn).one(_OLDEST)
        return None if row is None else int(row[0])

    def stop(self) -> None:
        """Stop the thread; if elected, integrate and anchor what is left; stand down."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.election.hold():
            self._looked = -LOOK_EVERY
            self.round(dataclasses.replace(self.checkpointer, every_events=1))
        self.election.release()
        self._seat(False)
        if self._own_engine:
            self.engine.dispose()
