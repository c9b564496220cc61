"""Signed checkpoints (tree heads) of the trail, taken on demand or automatically.

A checkpoint says "the first ``size`` events have Merkle root ``root``", signed with the
instance's Ed25519 audit key over this exact text (UTF-8, each line ending in ``\\n``)::

    vigie-audit-checkpoint/v1
    <size>
    <root, 64 hex digits>
    <time, integer microseconds since the Unix epoch, UTC>

Each checkpoint row also keeps the *frontier* (the roots of the perfect subtrees of its
tree) so the next checkpoint hashes only the events added since. Taking a checkpoint
locks the chain head, so no append slips in between reading the size and signing it,
and records an ``audit:checkpoint`` event right after it (event ``size + 1``) whose detail
repeats the signed head (id, size, root, time, signature): the chain commits to every
checkpoint, so deleting or replacing one is caught by verification
(:mod:`vigie.audit.anchors`).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection, Engine, desc, event, select
from sqlalchemy.orm import Session, sessionmaker

from vigie.audit import merkle, tiles
from vigie.audit.actions import Action
from vigie.audit.models import HEAD, AuditCheckpoint, to_us
from vigie.audit.trail import APPENDED, append, lock_head
from vigie.errors import IntegrityError
from vigie.ops import metrics
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings

HEADER = "vigie-audit-checkpoint/v1"


def message(size: int, root: bytes, at_us: int) -> bytes:
    """The exact bytes a checkpoint signature covers."""
    return f"{HEADER}\n{size}\n{root.hex()}\n{at_us}\n".encode()


def fingerprint(public_key: Ed25519PublicKey) -> str:
    """SHA-256 (hex) of the raw public key, naming the key that signed a checkpoint."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def split_frontier(blob: bytes) -> list[bytes]:
    """The frontier hashes stored in a checkpoint row."""
    return [blob[i : i + 32] for i in range(0, len(blob), 32)]


def latest(session: Session) -> AuditCheckpoint | None:
    """The most recent checkpoint, if any."""
    return session.scalars(select(AuditCheckpoint).order_by(desc(AuditCheckpoint.id))).first()


def take(
    session: Session,
    *,
    signing_key: Ed25519PrivateKey,
    actor: str,
    now: datetime | None = None,
    due: Callable[[int, AuditCheckpoint | None], bool] | None = None,
    succeeds: str | None = None,
) -> AuditCheckpoint | None:
    """Sign the current tree head in the caller's transaction and record it.

    ``due(size, last)`` is asked once the head is locked; if it says no, nothing is
    signed and None is returned. Raises :class:`IntegrityError` if the previous
    checkpoint's stored frontier does not match its signed root, or if it was signed by
    another key than ``signing_key`` (or ``succeeds``, the key a rotation retires now):
    the audit key was rotated and this process still holds the retired one.
    """
    conn = session.connection()
    size, _ = lock_head(conn)
    last = latest(session)
    ours = fingerprint(signing_key.public_key())
    if last is not None and last.key_fingerprint not in (ours, succeeds):
        raise IntegrityError(
            f"checkpoint #{last.id} was signed by audit key {last.key_fingerprint[:16]}…, not "
            "by this process's key: the key was rotated and this process has not loaded the "
            "new one yet (it does within VIGIE_SECRETS_RELOAD_SECONDS, or at restart)"
        )
    if due is not None and not due(size, last):
        return None
    frontier: list[bytes] = []
    start = 0
    if last is not None and last.size <= size:
        frontier = split_frontier(last.frontier)
        if merkle.fold(frontier) != last.root or len(frontier) != last.size.bit_count():
            raise IntegrityError(f"checkpoint #{last.id}: stored frontier does not match its root")
        start = last.size
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    rows = conn.exec_driver_sql(
        f"SELECT entry_hash FROM audit_events WHERE seq > {mark} AND seq <= {mark} ORDER BY seq",
        (start, size),
    ).fetchall()
    pending = [bytes(r[0]) for r in rows]
    n = start + len(pending)
    merkle.extend(frontier, start, pending)
    if n != size:
        raise IntegrityError(f"trail head says {size} events but {n} are stored")
    tiles.record(conn, start, size)
    root = merkle.fold(frontier)
    at_us = time.time_ns() // 1000 if now is None else to_us(now)
    checkpoint = AuditCheckpoint(
        size=size,
        root=root,
        at_us=at_us,
        key_fingerprint=ours,
        signature=signing_key.sign(message(size, root, at_us)),
        frontier=b"".join(frontier),
    )
    session.add(checkpoint)
    session.flush()
    append(
        session,
        action=Action.AUDIT_CHECKPOINT,
        actor=actor,
        detail={
            "checkpoint": checkpoint.id,
            "size": size,
            "root": root.hex(),
            "at_us": at_us,
            "signature": checkpoint.signature.hex(),
        },
        at=now,
    )
    return checkpoint


@dataclass
class Checkpointer:
    """Takes a checkpoint when ``every_events`` new events or ``every_seconds`` have passed.

    Call :meth:`maybe_checkpoint` after committing appends (the gateway after each
    request, CLI commands at their end); it is cheap when nothing is due and safe to call
    from several workers at once (the decision is re-taken under the head lock).
    """

    sessions: sessionmaker[Session]
    signing_key: Ed25519PrivateKey
    every_events: int = 10_000
    every_seconds: float = 300.0
    actor: str = "system:audit"
    secrets: InstanceSecrets | None = None
    """When given, its key is read at each checkpoint (``signing_key`` is then only the
    first one): a rotation reaches a running process without a restart."""
    fence: Callable[[Connection], None] | None = None
    """The elected sequencer's fence (:meth:`vigie.audit.election.Election.fence`), run
    first in the signing transaction: a deposed sequencer signs nothing."""

    @classmethod
    def from_settings(
        cls, settings: Settings, sessions: sessionmaker[Session], secrets: InstanceSecrets
    ) -> Checkpointer:
        """A checkpointer with the instance's key and the configured thresholds."""
        return cls(
            sessions=sessions,
            signing_key=secrets.signing_key,
            every_events=settings.audit_checkpoint_every_events,
            every_seconds=settings.audit_checkpoint_every_seconds,
            secrets=secrets,
        )

    def due(self, size: int, last: AuditCheckpoint | None, now_us: int) -> bool:
        """Whether a checkpoint is due for a trail of ``size`` events."""
        covered = 0 if last is None else last.size + 1  # +1: that checkpoint's own event
        new = size - covered
        if new <= 0:
            return False
        if new >= self.every_events or last is None:
            return True
        return now_us - last.at_us >= self.every_seconds * 1_000_000

    def maybe_checkpoint(self, now: datetime | None = None) -> AuditCheckpoint | None:
        """Take a checkpoint if one is due; return it (or None)."""
        now_us = time.time_ns() // 1000 if now is None else to_us(now)
        with self.sessions() as peek:  # unlocked look first: most calls end here
            size = peek.scalar(select(HEAD.c.size).where(HEAD.c.id == 1)) or 0
            last = latest(peek)
            _observe(size, last)
            if not self.due(size, last, now_us):
                return None
        try:
            taken = self._take(now, now_us)
        except IntegrityError:
            # Signed by a newer key than ours: a rotation committed a moment ago. Look for
            # its generation now rather than at the next interval, and try once more.
            if self.secrets is None or not self.secrets.reload_if_rotated():
                raise
            taken = self._take(now, now_us)
        if taken is not None:
            _observe(taken.size + 1, taken)
        return taken

    def _take(self, now: datetime | None, now_us: int) -> AuditCheckpoint | None:
        key = self.signing_key if self.secrets is None else self.secrets.signing_key
        with self.sessions.begin() as session:
            if self.fence is not None:
                self.fence(session.connection())
            return take(
                session,
                signing_key=key,
                actor=self.actor,
                now=now,
                due=lambda size, last: self.due(size, last, now_us),
            )


def _observe(size: int, last: AuditCheckpoint | None) -> None:
    """Export the latest checkpoint's time and the events it leaves unanchored."""
    covered = 0 if last is None else last.size + 1
    metrics.UNANCHORED.set(max(0, size - covered))
    if last is not None:
        metrics.CHECKPOINT_TIME.set(last.at_us / 1_000_000)


class AppendWatch:
    """Notes whether any transaction on ``engine`` committed audit events.

    A short-lived process (a CLI command) anchors what it appended before it exits, since
    no later process may come by to do it: it watches its engine, then calls
    :meth:`Checkpointer.maybe_checkpoint` with ``every_events=1`` if :attr:`appended`.
    Only committed appends count: a rolled-back transaction's events do not exist.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.appended = False
        event.listen(engine, "begin", self._forget)  # a mark left from before the watch
        event.listen(engine, "commit", self._commit)
        event.listen(engine, "rollback", self._forget)

    def _commit(self, conn: Connection) -> None:
        if conn.info.pop(APPENDED, False):
            self.appended = True

    def _forget(self, conn: Connection) -> None:
        conn.info.pop(APPENDED, None)

    def close(self) -> None:
        """Stop watching (the engine may outlive this process's use of it)."""
        event.remove(self.engine, "begin", self._forget)
        event.remove(self.engine, "commit", self._commit)
        event.remove(self.engine, "rollback", self._forget)
