"""Appending to the audit trail, inside the caller's unit of work: sequenced or staged.

Two ways in, one chain:

- :func:`append` (and :func:`append_many`) **sequence** at once: they lock the single
  chain-head row (PostgreSQL: ``SELECT ... FOR UPDATE``; SQLite: the engine opens every
  write transaction with ``BEGIN IMMEDIATE``), take the next sequence numbers, hash each
  event onto the chain, and update the served index for disclosures — all in the
  caller's transaction, and return the sequence numbers. Operators' actions, seals and
  checkpoints use them: they need their ``seq`` (or the head) in the same transaction,
  and they are rare.
- :func:`stage` only **commits durably**: one insert into ``audit_pending``, which takes
  no lock that another transaction shares. The gateway's requests on PostgreSQL use it,
  so that no lock shared by all processors sits on the request path; the elected
  sequencer (:mod:`vigie.audit.sequencer`) later moves the rows onto the chain through
  :func:`sequence_rows`, the same code :func:`append_many` runs.

Either way the caller commits: the disclosure and its event become durable together or
not at all. If anything fails, the caller's transaction is rolled back and
:class:`vigie.errors.AuditFailure` is raised (fail closed).

Neither needs the instance secrets; checkpoints are signed separately
(:mod:`vigie.audit.checkpoints`). Both mark the connection (``APPENDED`` in its
``info``) so that a process can tell, after a commit, that it left events to sequence or
anchor (:class:`vigie.audit.checkpoints.AppendWatch`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from vigie.audit import canonical, index
from vigie.audit.actions import Action
from vigie.audit.models import HEAD, to_us
from vigie.errors import AuditFailure
from vigie.ops import metrics
from vigie.store import raw

ACTOR_KINDS = ("processor:", "operator:", "system:")
DISCLOSURES = frozenset({Action.SUBJECT_READ, Action.SUBJECT_LIST})
"""Actions that disclose people to a processor and so feed the served index."""
_DISCLOSING = frozenset(a.value for a in DISCLOSURES)
APPENDED = "vigie.audit.appended"
"""Key set in a connection's ``info`` by an append, until its transaction ends."""

_head = HEAD
# On the driver's cursor (:mod:`vigie.store.raw`): every gateway request appends.
_INSERT = raw.Statement(
    "INSERT INTO audit_events (seq, at_us, actor, processor_id, key_id, origin, action, "
    "purpose, subjects, fields, outcome, detail, prev_hash, entry_hash) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_STAGE = raw.Statement(
    "INSERT INTO audit_pending (at_us, actor, processor_id, key_id, origin, action, "
    "purpose, subjects, fields, outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_HEAD = "SELECT size, head_hash FROM audit_head WHERE id = 1"
_LOCK_HEAD = {
    "postgresql": raw.Statement(_HEAD + " FOR UPDATE"),
    "sqlite": raw.Statement(_HEAD),  # the transaction holds the write lock from BEGIN
}
_MOVE_HEAD = raw.Statement("UPDATE audit_head SET size = ?, head_hash = ? WHERE id = 1")


@dataclass(frozen=True)
class NewEvent:
    """One event to append (see :func:`append` for the meaning of each field)."""

    action: Action
    actor: str
    processor_id: int | None = None
    key_id: int | None = None
    origin: str | None = None
    purpose: str | None = None
    subject_ids: Sequence[int] = ()
    fields: Sequence[str] = ()
    outcome: str = "ok"
    detail: Mapping[str, Any] | None = None
    at: datetime | None = None


def append(
    session: Session,
    *,
    action: Action,
    actor: str,
    processor_id: int | None = None,
    key_id: int | None = None,
    origin: str | None = None,
    purpose: str | None = None,
    subject_ids: Sequence[int] = (),
    fields: Sequence[str] = (),
    outcome: str = "ok",
    detail: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> int:
    """Record one event in the caller's transaction; return its sequence number.

    ``actor`` is ``"processor:<name>/key:<id>"``, ``"operator:<login>"`` or
    ``"system:<component>"``; ``subject_ids`` are internal ids of the people disclosed;
    ``detail`` holds ids and counts only, never personal values; ``at`` defaults to now.
    Raises :class:`AuditFailure` (after rolling the caller's transaction back) if the
    event cannot be written.
    """
    event = NewEvent(
        action=action,
        actor=actor,
        processor_id=processor_id,
        key_id=key_id,
        origin=origin,
        purpose=purpose,
        subject_ids=subject_ids,
        fields=fields,
        outcome=outcome,
        detail=detail,
        at=at,
    )
    return append_many(session, [event])[0]


def append_many(session: Session, events: Sequence[NewEvent]) -> list[int]:
    """Record several events in one go (group commit); return their sequence numbers."""
    if not events:
        return []
    started = time.perf_counter()
    encoded = _encode_all(session, events)
    try:
        cursor = raw.cursor(session)  # a pinned one without asking the session again
        conn = cursor.connection
        people = [sorted(set(e.subject_ids)) for e in events]  # what decoding gives back
        seqs = sequence_rows(cursor, conn, encoded, people=people)
        conn.info[APPENDED] = True
    except SQLAlchemyError as exc:
        _failed(session, exc)
    metrics.AUDIT_APPEND.observe(time.perf_counter() - started)
    return seqs


def stage(session: Session, events: Sequence[NewEvent]) -> None:
    """Commit ``events`` with the caller's transaction, unsequenced (``audit_pending``).

    Takes no lock shared with other transactions: the sequencer gives them their place in
    the chain after the commit. Raises :class:`AuditFailure` (after rolling the caller's
    transaction back) if they cannot be written.

    On PostgreSQL one event (a gateway request's) is sent with the transaction's
    ``COMMIT``, in one round trip (:meth:`vigie.store.raw.Cursor.with_commit`): nothing
    in the transaction reads it back, and it is committed with the transaction or not at
    all. If it cannot be written there, the commit raises :class:`AuditFailure` and the
    transaction rolls back.
    """
    if not events:
        return
    started = time.perf_counter()
    encoded = _encode_all(session, events)
    try:
        cursor = raw.cursor(session)  # the pinned one, if any: no session machinery
        conn = cursor.connection
        if len(encoded) == 1:
            cursor.with_commit(_STAGE, encoded[0], failure=_failed_at_commit)
        else:
            cursor.copy(_STAGE, encoded)
        conn.info[APPENDED] = True
    except SQLAlchemyError as exc:
        _failed(session, exc)
    metrics.AUDIT_APPEND.observe(time.perf_counter() - started)


def _failed_at_commit(exc: Exception) -> AuditFailure:
    """The error a staged event that could not be written with the commit raises."""
    metrics.AUDIT_APPEND_FAILURES.inc()
    return AuditFailure(f"cannot record audit event: {type(exc).__name__}")


def sequence_rows(
    cursor: raw.Cursor,
    conn: Connection,
    encoded: Sequence[tuple[Any, ...]],
    *,
    people: Sequence[Sequence[int]] | None = None,
) -> list[int]:
    """Chain encoded events (the columns after ``seq``) after the head; return their seqs.

    Locks the head, inserts the events with their hashes, moves the head and feeds the
    served index with the disclosures, in the caller's transaction. ``people``: each
    event's people as :func:`vigie.audit.canonical.decode_subjects` gives them (sorted,
    distinct), when the caller has them, instead of decoding them again.
    """
    size, prev = _lock(cursor, conn)
    first = size + 1
    hashes = canonical.chain(prev, first, encoded)
    previous = [prev, *hashes[:-1]]
    rows = [
        (seq, *row, p, h)
        for seq, row, p, h in zip(
            range(first, first + len(encoded)), encoded, previous, hashes, strict=True
        )
    ]
    size, prev = first + len(encoded) - 1, hashes[-1] if hashes else prev
    decode = canonical.decode_subjects
    disclosures = [
        index.Disclosure(
            seq, row[0], row[2], decode(row[7]) if people is None else people[i], row[8]
        )
        for i, (seq, row) in enumerate(zip(range(first, size + 1), encoded, strict=True))
        if row[5] in _DISCLOSING and row[2] is not None and row[9] == "ok"
    ]
    cursor.copy(_INSERT, rows)
    cursor.run(_MOVE_HEAD, (size, prev))
    if disclosures:
        index.record(cursor, disclosures)
    return [r[0] for r in rows]


def _encode_all(session: Session, events: Sequence[NewEvent]) -> list[tuple[Any, ...]]:
    try:
        return [_encode(e) for e in events]
    except (ValueError, TypeError) as exc:
        session.rollback()
        metrics.AUDIT_APPEND_FAILURES.inc()
        raise AuditFailure(f"cannot record audit event: {exc}") from exc


def _failed(session: Session, exc: SQLAlchemyError) -> NoReturn:
    session.rollback()
    metrics.AUDIT_APPEND_FAILURES.inc()
    raise AuditFailure(f"cannot record audit event: {type(exc).__name__}") from exc


def lock_head(conn: Connection) -> tuple[int, bytes]:
    """Lock the chain head for this transaction; return (size, hash of the last event)."""
    return _lock(raw.cursor_of(conn), conn)


def _lock(cursor: raw.Cursor, conn: Connection) -> tuple[int, bytes]:
    statement = _LOCK_HEAD[conn.dialect.name]
    row = cursor.one(statement)
    if row is None:
        ins = pg_insert(_head) if conn.dialect.name == "postgresql" else sqlite_insert(_head)
        conn.execute(ins.values(id=1, size=0, head_hash=canonical.GENESIS).on_conflict_do_nothing())
        row = cursor.one(statement)
        assert row is not None
    return int(row[0]), bytes(row[1])


def _encode(event: NewEvent) -> tuple[Any, ...]:
    """The stored columns of an event after ``seq``, before the hashes (canonical order)."""
    action = Action(event.action)
    if not event.actor.startswith(ACTOR_KINDS) or len(event.actor) > 200:
        raise ValueError(f"actor must start with one of {ACTOR_KINDS}")
    return (
        time.time_ns() // 1000 if event.at is None else to_us(event.at),
        event.actor,
        event.processor_id,
        event.key_id,
        event.origin,
        action.value,
        event.purpose,
        canonical.encode_subjects(event.subject_ids),
        canonical.encode_fields(event.fields),
        event.outcome,
        canonical.encode_detail(event.detail),
    )
