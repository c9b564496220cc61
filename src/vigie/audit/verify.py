"""Re-check the whole trail: every event hash, every chain link, every checkpoint.

Verification streams the events in sequence order through a plain DB-API cursor (one
consistent snapshot), recomputes each event's hash from its stored columns, checks it
links to the previous one, grows the Merkle tree incrementally (a stack of subtree
roots) and compares its root with every checkpoint of that size, whose signature it
checks too. The first problem found raises :class:`vigie.errors.IntegrityError` naming
the event or checkpoint and why; a healthy trail returns a :class:`Report`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Engine

from vigie.audit import merkle
from vigie.audit.canonical import FORMAT_VERSION, GENESIS
from vigie.audit.checkpoints import fingerprint, message, split_frontier
from vigie.errors import IntegrityError

EVENT_COLUMNS = (
    "seq, at_us, actor, processor_id, key_id, origin, action, purpose, "
    "subjects, fields, outcome, detail, prev_hash, entry_hash"
)
BATCH = 20_000


@dataclass(frozen=True)
class Report:
    """What a successful verification covered."""

    events: int
    checkpoints: int
    head_hash: bytes
    root: bytes
    seconds: float


@dataclass(frozen=True)
class _Checkpoint:
    id: int
    size: int
    root: bytes
    at_us: int
    key_fingerprint: str
    signature: bytes
    frontier: bytes


def verify_trail(
    engine: Engine,
    *,
    public_key: Ed25519PublicKey,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Verify the trail in ``engine``'s database; raise ``IntegrityError`` at the first fault.

    ``progress(n)`` is called every few thousand events with the count so far.
    """
    started = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cur = _snapshot_cursor(raw, engine.dialect.name)
        cur.execute(
            "SELECT id, size, root, at_us, key_fingerprint, signature, frontier "
            "FROM audit_checkpoints ORDER BY id"
        )
        checkpoints = [_checkpoint_row(r) for r in cur.fetchall()]
        _check_signatures(checkpoints, public_key)
        cur.execute("SELECT size, head_hash FROM audit_head WHERE id = 1")
        head = cur.fetchone()
        cur.close()
        events_cur = _stream_cursor(raw, engine.dialect.name)
        try:
            events_cur.execute(f"SELECT {EVENT_COLUMNS} FROM audit_events ORDER BY seq")
            n, last, frontier = _check_events(events_cur, checkpoints, progress)
        finally:
            events_cur.close()
    finally:
        raw.rollback()
        raw.close()
    for cp in checkpoints:
        if cp.size > n:
            raise IntegrityError(
                f"checkpoint #{cp.id}: it signs {cp.size} events but the trail holds only {n} "
                f"(events {n + 1}..{cp.size} were removed)"
            )
    head_size, head_hash = (0, GENESIS) if head is None else (int(head[0]), bytes(head[1]))
    if head_size != n or head_hash != last:
        raise IntegrityError(
            f"trail head: it records {head_size} events, the trail holds {n}"
            + ("" if head_size != n else " but the last hash differs")
            + " (events were removed from the end, or the head was altered)"
        )
    return Report(
        events=n,
        checkpoints=len(checkpoints),
        head_hash=last,
        root=merkle.fold(frontier),
        seconds=time.perf_counter() - started,
    )


def _checkpoint_row(r: Any) -> _Checkpoint:
    return _Checkpoint(
        id=int(r[0]),
        size=int(r[1]),
        root=bytes(r[2]),
        at_us=int(r[3]),
        key_fingerprint=str(r[4]),
        signature=bytes(r[5]),
        frontier=bytes(r[6]),
    )


def _snapshot_cursor(raw: Any, dialect: str) -> Any:
    raw.rollback()
    cur = raw.cursor()
    if dialect == "postgresql":
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    else:
        cur.execute("BEGIN")  # deferred: a read snapshot, no write lock
    return cur


def _stream_cursor(raw: Any, dialect: str) -> Any:
    if dialect == "postgresql":
        return raw.cursor(name="vigie_audit_verify")
    return raw.cursor()


def _check_signatures(checkpoints: list[_Checkpoint], public_key: Ed25519PublicKey) -> None:
    expected = fingerprint(public_key)
    prev: _Checkpoint | None = None
    for cp in checkpoints:
        if cp.key_fingerprint != expected:
            raise IntegrityError(
                f"checkpoint #{cp.id}: signed by another key ({cp.key_fingerprint[:16]}…)"
            )
        try:
            public_key.verify(cp.signature, message(cp.size, cp.root, cp.at_us))
        except InvalidSignature:
            raise IntegrityError(
                f"checkpoint #{cp.id}: signature does not verify (size, root or time altered)"
            ) from None
        if prev is not None and (cp.size < prev.size or cp.at_us < prev.at_us):
            raise IntegrityError(f"checkpoint #{cp.id}: goes back from checkpoint #{prev.id}")
        prev = cp


def _check_events(
    cur: Any,
    checkpoints: list[_Checkpoint],
    progress: Callable[[int], None] | None,
) -> tuple[int, bytes, list[bytes]]:
    by_size: dict[int, list[_Checkpoint]] = {}
    for cp in checkpoints:
        by_size.setdefault(cp.size, []).append(cp)
    if 0 in by_size:
        _check_root(by_size.pop(0), [])
    sha = hashlib.sha256
    dumps = orjson.dumps
    fetch = cur.fetchmany
    frontier: list[bytes] = []
    prev = GENESIS
    expected = 1
    while rows := fetch(BATCH):
        for row in rows:
            seq = row[0]
            if seq != expected:
                raise IntegrityError(_gap(seq, expected))
            if row[12] != prev:
                raise IntegrityError(
                    f"event {seq}: its prev_hash does not link to event {seq - 1}"
                    " (an event was altered, removed or reordered here)"
                )
            body = dumps((FORMAT_VERSION, *row[:8], row[8].hex(), *row[9:12]))
            h = sha(b"\x00" + prev + body).digest()
            if h != row[13]:
                raise IntegrityError(
                    f"event {seq}: its contents do not match its hash (the event was altered)"
                )
            i = seq - 1
            x = h
            while i & 1:
                x = sha(b"\x01" + frontier.pop() + x).digest()
                i >>= 1
            frontier.append(x)
            prev = h
            expected += 1
            if seq in by_size:
                _check_root(by_size.pop(seq), frontier)
        if progress is not None:
            progress(expected - 1)
    return expected - 1, prev, frontier


def _check_root(cps: list[_Checkpoint], frontier: list[bytes]) -> None:
    root = merkle.fold(frontier)
    for cp in cps:
        if cp.root != root:
            raise IntegrityError(
                f"checkpoint #{cp.id}: its root does not match the first {cp.size} events"
            )
        if split_frontier(cp.frontier) != frontier:
            raise IntegrityError(f"checkpoint #{cp.id}: its stored frontier was altered")


def _gap(seq: int, expected: int) -> str:
    if seq > expected:
        missing = f"{expected}" if seq == expected + 1 else f"{expected}..{seq - 1}"
        return f"event {missing} missing: the trail jumps from {expected - 1} to {seq}"
    return f"event {seq} out of place: found where event {expected} should be (renumbered)"
