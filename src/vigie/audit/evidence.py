"""The served index as evidence: recomputed from the chained events, compared exactly.

Attribution, dating, exposure reports and a person's disclosure report read the served
index (:mod:`vigie.audit.index`), not the events. The index is therefore bound to the
verified trail: :func:`check_index` recomputes all three tables from the disclosure
events (``subject:read`` / ``subject:list`` with a processor and outcome ``ok``) and
compares them with what is stored, row for row — not a sample — on the cursor of the
snapshot in which :func:`vigie.audit.verify.verify_trail` checks the chain, so what is
compared is what was verified. The rules, which :func:`vigie.audit.index.record` follows:

- ``audit_disclosures``: one row (processor, time, event, person) per person of each
  disclosure event;
- ``audit_receipts``: per (person, processor, field set), the first and last time and
  the first and last event;
- ``audit_processor_fields``: (processor, field) for each field of a disclosure event
  that disclosed at least one person.

How, and what it costs. The events are read once, after the chain scan, by one filtered
query (:mod:`vigie.audit.gather`: the disclosure events, the canary plants, the processor
creations and the checkpoint announcements together), their people decoded with NumPy a
whole batch at once and kept as five integer columns per (event, person) pair (40
bytes). From those the three tables are recomputed in the stored key order (a stable
sort; field sets coded in byte order), and the stored rows are compared with them batch
by batch as they stream from the database, each batch one NumPy array, no per-row
Python: memory holds the pairs and one recomputed table, never the stored rows (peak of
a whole ``verify``, ``tracemalloc``: 192 MB for 1.26 million pairs, about 133 bytes per
added pair; docs/benchmarks.md). It still grows with the pairs: hundreds of millions
would need the check split by processor. On SQLite, which keeps any value in any column,
a value that is not an integer fails rather than being read as the integer it resembles.
Only when the stream differs are the rows read again whole, to name the first
difference. A difference raises :class:`vigie.errors.IntegrityError` naming the
processor, the person's internal id and the event — never a personal value.
:func:`require_verified` is what attribution and dating call first: trail and index
verify, anchored, or nothing is attributed.

The canary flag is evidence too (:func:`check_canaries`): the people flagged
``subjects.is_canary`` must be exactly those the ``canary:plant`` events planted. So are
the processors' names, by which every report names a processor (:func:`check_processors`):
each ``processors`` row must carry the name its ``processor:create`` event recorded.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Generator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session

from vigie.audit.anchors import Bound, unanchored
from vigie.audit.gather import Gathered, Pairs, decode
from vigie.audit.keyring import AuditKeys
from vigie.audit.seal_check import Sealed
from vigie.audit.seals import SEALS, Seal
from vigie.errors import IntegrityError

Ints = NDArray[np.int64]
BATCH = 50_000
_DISCLOSURES = (
    "SELECT {processor_id}, {at_us}, {seq}, {subject_id} FROM audit_disclosures "
    "ORDER BY processor_id, at_us, seq, subject_id"
)
_RECEIPTS = (
    "SELECT {subject_id}, {processor_id}, {code}, {first_us}, {last_us}, {first_seq}, "
    "{last_seq} FROM audit_receipts ORDER BY subject_id, processor_id, fields{collate}"
)
_FIELDS = "SELECT processor_id, field FROM audit_processor_fields"
_FLAGGED = "SELECT id FROM subjects WHERE is_canary ORDER BY id"
_RECEIPT_VALUES = ("first time", "last time", "first event", "last event")
_RECEIPT_COLUMNS = ("first_us", "last_us", "first_seq", "last_seq")


def check_index(raw: Any, dialect: str, gathered: Gathered) -> int:
    """Compare the served index with the disclosure events; return the rows checked.

    ``raw`` is a DB-API connection inside the read snapshot the chain was verified in, and
    ``gathered`` the events :func:`vigie.audit.gather.gather` read in it. Raises
    :class:`IntegrityError` ("served index: …") at the first difference.
    """
    if gathered.fault is not None:
        raise gathered.fault
    pairs = gathered.take_pairs()
    rows = _check_disclosures(raw, dialect, pairs)
    rows += _check_receipts(raw, dialect, pairs, gathered.names)
    rows += _check_fields(raw, dialect, gathered.pairs_of)
    return rows


def check_canaries(raw: Any, dialect: str, gathered: Gathered) -> int:
    """Compare the people flagged ``is_canary`` with those the chained ``canary:plant``
    events planted (in ``gathered``); return how many canaries there are.

    Attribution weighs a canary found in a dump heavily (a processor that received it is
    named), so a real person turned into a canary, or a canary into a real person, in the
    store is an :class:`IntegrityError` ("canaries: …") naming the person's internal id
    (and the event that planted it) — never a value. Same snapshot as :func:`check_index`.
    """
    seq = [s for s, _ in gathered.planted]
    counts, ids = decode([b for _, b in gathered.planted], seq)
    by = np.repeat(np.asarray(seq, dtype=np.int64), counts)
    batches = [np.asarray([r[0] for r in rows], dtype=np.int64)
               for rows in _rows(raw, dialect, _FLAGGED, "flagged")]  # fmt: skip
    flagged = np.concatenate(batches) if batches else np.zeros(0, np.int64)
    unplanted = np.setdiff1d(flagged, ids)
    if unplanted.size:
        raise IntegrityError(
            f"canaries: person id {int(unplanted[0])} is flagged a canary, but no "
            "`canary:plant` event planted it (a real person was turned into a canary)"
        )
    unflagged = np.setdiff1d(ids, flagged)
    if unflagged.size:
        sid = int(unflagged[0])
        event = int(by[np.flatnonzero(ids == sid)[0]])
        raise IntegrityError(
            f"canaries: person id {sid} was planted a canary by event {event}, but is no longer "
            "flagged one (a canary was turned into a real person)"
        )
    return int(flagged.size)


_PROCESSORS = "SELECT id, name FROM processors ORDER BY id"


def check_processors(raw: Any, dialect: str, gathered: Gathered) -> int:
    """Compare each processor's name with the one its chained ``processor:create`` event
    recorded (in ``gathered``); return how many processors there are.

    Attribution names a processor by the ``processors`` row of its id: two names swapped
    in the store would name the wrong one, a row deleted would clear it. Each is an
    :class:`IntegrityError` ("processors: …"). Same snapshot as :func:`check_index`.
    """
    created: dict[int, tuple[str, int]] = {}
    for seq, pid, detail in gathered.created:
        try:
            name = json.loads(detail or "")["name"]
        except (ValueError, KeyError, TypeError):
            raise IntegrityError(
                f"processors: event {seq} creates processor id {pid} without recording its "
                "name (written before names were recorded, or altered)"
            ) from None
        created[int(pid)] = (str(name), int(seq))
    seen = 0
    for rows in _rows(raw, dialect, _PROCESSORS, "processors"):
        for pid, name in rows:
            entry = created.pop(int(pid), None)
            if entry is None:
                raise IntegrityError(
                    f"processors: processor id {pid} ({name!r}) has no `processor:create` "
                    "event (it was added behind Vigie's back)"
                )
            if entry[0] != name:
                raise IntegrityError(
                    f"processors: processor id {pid} is named {name!r}, but event {entry[1]} "
                    f"created it as {entry[0]!r} (renamed behind Vigie's back: reports would "
                    "name the wrong processor)"
                )
            seen += 1
    for pid, (name, seq) in sorted(created.items()):
        raise IntegrityError(
            f"processors: processor id {pid} ({name!r}), created by event {seq}, is missing "
            "from the store (a deleted processor can no longer be named)"
        )
    return seen


def require_verified(
    db: Session | Engine,
    *,
    public_key: AuditKeys,
    bound: Bound,
    purpose: str,
    now_us: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Verify the trail and its served index, anchored, or refuse ``purpose``.

    The gate of attribution and dating: raises :class:`IntegrityError` saying that
    ``purpose`` (e.g. "attribution") is refused, and why — when the trail, its index or
    the canary flag does not verify; when the events after the last signed checkpoint
    exceed ``bound``, or no checkpoint was ever signed (those events could have been
    removed or rewritten, the chain recomputed); and when the trail is empty (a wiped
    store verifies as empty). Events committed but still pending are integrated first
    (:mod:`vigie.audit.sequencer`): given an engine, in transactions of their own, so the
    gate judges everything committed; given a session, in the session's transaction (a
    transaction of its own would wait for the caller's locks), committed with the
    caller's work, so this verification judges the trail as last committed. Integrated
    events count in the unanchored tail until a checkpoint signs them.
    Given a session, it verifies its database in a snapshot of
    its own: what the session has not committed is not part of the evidence. ``now_us``
    (default: the system clock) dates the tail; ``progress(n)`` is told the events
    checked so far. Returns the number of events checked.
    """
    return _gate(db, public_key=public_key, bound=bound, purpose=purpose, now_us=now_us,
                 progress=progress).size  # fmt: skip


def require_evidence(
    db: Session | Engine,
    *,
    public_key: AuditKeys,
    bound: Bound,
    purpose: str,
    recompute_seals: Collection[Seal],
) -> Verified:
    """:func:`require_verified` for a reader that checks some sealed sets itself: only
    the rows of ``recompute_seals`` are read back and compared with their seals; of the
    others the seal chains and heads are verified, and :attr:`Verified.sealed` gives each
    set's state as the trail seals it (:func:`vigie.audit.seals.state_digest`), which
    the reader compares with the rows it holds. The leak triage reads the registry only
    through its snapshot, checked against its seals when it is built, and no other sealed
    table (:mod:`vigie.leaks.snapshot`)."""
    return _gate(db, public_key=public_key, bound=bound, purpose=purpose,
                 recompute_seals=recompute_seals)  # fmt: skip


@dataclass(frozen=True)
class Verified:
    """What the gate verified ahead of a write (:func:`verify_ahead`): the trail's first
    ``size`` events, the last of which has the hash ``head_hash``; ``sealed``, what each
    sealed set binds (:class:`vigie.audit.seal_check.Sealed`)."""

    size: int
    head_hash: bytes
    purpose: str
    sealed: Mapping[str, Sealed] = field(default_factory=dict)


def verify_ahead(
    engine: Engine,
    *,
    public_key: AuditKeys,
    bound: Bound,
    purpose: str,
    progress: Callable[[int], None] | None = None,
) -> Verified:
    """:func:`require_verified` on ``engine``, holding no lock, for a job that reports
    progress while the trail is verified and writes afterwards in a short transaction
    that calls :func:`still_verified` first. Raises as :func:`require_verified` does."""
    return _gate(engine, public_key=public_key, bound=bound, purpose=purpose, progress=progress)


def still_verified(session: Session, verified: Verified) -> None:
    """In the caller's write transaction: lock the chain head and check that the trail
    still ends with, or grew on top of, what ``verified`` covered — the verified head
    event is still there with the same hash. Events appended since were chained on it by
    Vigie's own append; a trail truncated, rolled back or whose verified head changed
    raises :class:`IntegrityError` and nothing is written."""
    from vigie.audit import trail

    conn = session.connection()
    size, head_hash = trail.lock_head(conn)
    if size == verified.size:
        same = head_hash == verified.head_hash
    else:
        stored = conn.execute(
            text("SELECT entry_hash FROM audit_events WHERE seq = :seq"), {"seq": verified.size}
        ).scalar()
        same = size > verified.size and stored is not None and bytes(stored) == verified.head_hash
    if not same:
        raise IntegrityError(
            f"the audit trail changed under the verification (it covered {verified.size} "
            f"events, the trail now holds {size}); {verified.purpose} refused — run it again"
        )


def _gate(
    db: Session | Engine,
    *,
    public_key: AuditKeys,
    bound: Bound,
    purpose: str,
    now_us: int | None = None,
    progress: Callable[[int], None] | None = None,
    recompute_seals: Collection[Seal] = SEALS,
) -> Verified:
    from vigie.audit.sequencer import BATCH, integrate, integrate_all
    from vigie.audit.verify import verify_trail

    bind = db.get_bind() if isinstance(db, Session) else db
    engine = bind.engine if isinstance(bind, Connection) else bind
    if isinstance(db, Session):  # in the caller's transaction (another would wait for it)
        while integrate(db) == BATCH:
            pass
    else:
        integrate_all(engine)
    try:
        report = verify_trail(
            engine, public_key=public_key, progress=progress, recompute_seals=recompute_seals
        )
    except IntegrityError as exc:
        raise IntegrityError(
            f"the audit trail does not verify: {exc}; {purpose} refused — run `vigie audit verify`"
        ) from exc
    now = time.time_ns() // 1000 if now_us is None else now_us
    reason = unanchored(report.tail, bound=bound, now_us=now)
    if report.events == 0:  # a wiped store verifies as empty: not "nobody received anything"
        reason = "UNANCHORED: the audit trail holds no event (no disclosure can be shown)"
    if reason is not None:
        raise IntegrityError(
            f"{reason}; {purpose} refused — find out why no checkpoint was taken, then sign "
            "one with `vigie audit checkpoint`"
        )
    return Verified(
        size=report.events,
        head_hash=report.head_hash,
        purpose=purpose,
        sealed=dict(report.sealed or {}),
    )


def _rows(
    raw: Any, dialect: str, sql: str, name: str, params: Sequence[Any] = ()
) -> Generator[list[Any], None, None]:
    """Yield batches of rows, streamed (a server-side cursor on PostgreSQL)."""
    cur = raw.cursor(name=f"vigie_evidence_{name}") if dialect == "postgresql" else raw.cursor()
    try:
        cur.execute(sql, tuple(params))
        while rows := cur.fetchmany(BATCH):
            yield rows
    finally:
        cur.close()


def _ints(rows: list[tuple[int, ...]], width: int) -> Ints:
    """A batch of all-integer rows as one ``(n, width)`` array, with no per-row Python."""
    flat = np.fromiter(chain.from_iterable(rows), dtype=np.int64, count=width * len(rows))
    return flat.reshape(-1, width)


def _stream_equal(batches: Generator[list[tuple[int, ...]], None, None], want: Ints) -> bool:
    """Whether the streamed rows are exactly ``want``, row for row, batch by batch."""
    done, width = 0, want.shape[1]
    with closing(batches):  # a stop at the first difference closes the cursor
        for rows in batches:
            try:
                have = _ints(rows, width)
            except (TypeError, ValueError, OverflowError):  # not an integer: not as served
                return False
            if not np.array_equal(have, want[done : done + len(have)]):
                return False
            done += len(have)
    return done == len(want)


def _integers(dialect: str, sql: str, **more: str) -> str:
    """``sql`` with each ``{column}`` read as an integer. SQLite stores any value in any
    column: there a value that is not an integer (a text, a real) reads as NULL, which
    never matches, rather than being converted to the integer it resembles."""
    columns = ("processor_id", "at_us", "seq", "subject_id", *_RECEIPT_COLUMNS)
    if dialect == "sqlite":
        read = {c: f"CASE typeof({c}) WHEN 'integer' THEN {c} END" for c in columns}
    else:
        read = {c: c for c in columns}
    return sql.format(**read, **more)


def _receipts_sql(dialect: str, code: str) -> str:
    """The receipts in key order, the field set as ``code``; byte order of the field sets
    on PostgreSQL too, whatever the database's collation."""
    collate = ' COLLATE "C"' if dialect == "postgresql" else ""
    return _integers(dialect, _RECEIPTS, code=code, collate=collate)


def _typed(rows: list[Any], table: str, named: Callable[[Any], str], skip: int = -1) -> None:
    """Raise if a row read by :func:`_integers` holds a value that is not an integer."""
    for r in rows:
        if any(type(v) is not int for i, v in enumerate(r) if i != skip):
            raise IntegrityError(
                f"served index: an {table} row holds a value that is not an integer ({named(r)})"
            )


def _check_disclosures(raw: Any, dialect: str, pairs: Pairs) -> int:
    # Pairs come in (event, person) order: a stable sort by (processor, time) is key order.
    order = np.lexsort((pairs.at_us, pairs.processor))
    want = np.empty((len(order), 4), np.int64)
    for j, column in enumerate((pairs.processor, pairs.at_us, pairs.seq, pairs.subject)):
        want[:, j] = column[order]  # column by column: one sorted copy, no unsorted one
    del order
    sql = _integers(dialect, _DISCLOSURES)
    if _stream_equal(_rows(raw, dialect, sql, "disclosures"), want):
        return len(want)
    rows = [r for batch in _rows(raw, dialect, sql, "disclosures") for r in batch]
    _typed(rows, "audit_disclosures", lambda r: f"processor {r[0]}, event {r[2]}, person id {r[3]}")
    have = np.asarray(rows, dtype=np.int64).reshape(-1, 4)
    raise IntegrityError("served index: " + _disclosure_fault(want, have))


def _disclosure_fault(want: Ints, have: Ints) -> str:
    wanted = {(p, s, sid): at for p, at, s, sid in want.tolist()}
    held = {(p, s, sid): at for p, at, s, sid in have.tolist()}
    for key in sorted(set(wanted) | set(held), key=lambda k: (k[1], k[2], k[0])):
        p, s, sid = key
        if key not in held:
            return (
                f"processor {p} received person id {sid} in event {s}, but the index row is missing"
            )
        if key not in wanted:
            return (
                f"an index row with no event behind it: processor {p}, person id {sid}, event {s}"
            )
        if wanted[key] != held[key]:
            return f"processor {p}, person id {sid}, event {s}: the index row's time was altered"
    return "audit_disclosures holds a row twice"  # pragma: no cover (primary key)


def _receipts_of(keys: tuple[Ints, Ints, Ints], at_us: Ints, seq: Ints) -> Ints:
    """Group (person, processor, field set) -> first/last time, first/last event."""
    order = np.lexsort(keys[::-1])
    if not len(order):
        return np.zeros((0, 7), np.int64)
    change = np.zeros(len(order), dtype=bool)
    change[0] = True
    firsts = []
    for column in keys:
        k = column[order]
        change[1:] |= k[1:] != k[:-1]
        firsts.append(k)
    starts = np.flatnonzero(change)
    del change
    out = np.empty((len(starts), 7), np.int64)
    for j, k in enumerate(firsts):
        out[:, j] = k[starts]
    del firsts, k
    for j, (column, reduce) in enumerate(
        ((at_us, np.minimum), (at_us, np.maximum), (seq, np.minimum), (seq, np.maximum)), 3
    ):
        out[:, j] = reduce.reduceat(column[order], starts)
    return out


def _check_receipts(raw: Any, dialect: str, pairs: Pairs, names: list[str]) -> int:
    # Field sets coded in byte order, so that (person, processor, code) is the table's key
    # order: the stored rows are compared as they stream, with no sort.
    ranked = sorted(range(len(names)), key=lambda i: names[i].encode())
    rank = np.zeros(len(names), np.int64)
    rank[ranked] = np.arange(len(names))
    names = [names[i] for i in ranked]
    code = rank[pairs.fields] if len(names) else pairs.fields
    want = _receipts_of((pairs.subject, pairs.processor, code), pairs.at_us, pairs.seq)
    del code
    mark = "?" if dialect == "sqlite" else "%s"
    case = " ".join(f"WHEN {mark} THEN {i}" for i in range(len(names)))
    coded = _receipts_sql(dialect, f"CASE fields {case} ELSE -1 END" if names else "-1")
    if _stream_equal(_rows(raw, dialect, coded, "receipts", names), want):
        return len(want)
    codes = {name: i for i, name in enumerate(names)}
    batches: list[Ints] = []
    for rows in _rows(raw, dialect, _receipts_sql(dialect, "fields"), "receipts"):
        _typed(rows, "audit_receipts", lambda r: f"person id {r[0]}, processor {r[1]}", skip=2)
        sid, p, fields, *values = zip(*rows, strict=True)
        for f in set(fields) - codes.keys():  # a field set no disclosure event has
            codes[f] = len(names)
            names.append(f)
        code_ = [codes[f] for f in fields]
        batches.append(np.asarray((sid, p, code_, *values), dtype=np.int64).T)
    have = np.concatenate(batches) if batches else np.zeros((0, 7), np.int64)
    have = have[np.lexsort((have[:, 2], have[:, 1], have[:, 0]))]
    raise IntegrityError("served index: " + _receipt_fault(want, have, names))


def _receipt_fault(want: Ints, have: Ints, names: list[str]) -> str:
    wanted = {tuple(r[:3]): r[3:] for r in want.tolist()}
    held = {tuple(r[:3]): r[3:] for r in have.tolist()}
    extra = {k[:2]: k for k in sorted(set(held) - set(wanted), reverse=True)}
    for key in sorted(set(wanted) | set(held)):
        sid, p, code = key
        of = f"person id {sid}, processor {p}, fields {names[code]!r}"
        if key not in held and key[:2] in extra:
            now = names[extra[key[:2]][2]]
            return (
                f"receipt of person id {sid} by processor {p}: field set altered ({of} -> {now!r})"
            )
        if key not in held:
            return (
                f"processor {p} received person id {sid} (event {wanted[key][2]}), "
                f"but its receipt is missing ({of})"
            )
        if key not in wanted:
            return f"a receipt with no event behind it: {of}"
        for what, w, h in zip(_RECEIPT_VALUES, wanted[key], held[key], strict=True):
            if w != h:
                return f"receipt of person id {sid} by processor {p}: {what} altered ({of})"
    return "audit_receipts holds a row twice"  # pragma: no cover (primary key)


def _check_fields(raw: Any, dialect: str, pairs_of: dict[tuple[int, str], int]) -> int:
    held = {(int(p), str(f)) for rows in _rows(raw, dialect, _FIELDS, "fields") for p, f in rows}
    for (p, f), seq in sorted(pairs_of.items(), key=lambda kv: kv[1]):
        if (p, f) not in held:
            raise IntegrityError(
                f"served index: processor {p} received field {f!r} (event {seq}), "
                "but the index row is missing"
            )
    for p, f in sorted(held - set(pairs_of)):
        raise IntegrityError(
            f"served index: processor {p}, field {f!r}: an index row with no event behind it"
        )
    return len(held)
