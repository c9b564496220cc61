"""Sealed tables: evidence tables bound to the trail, bucket by bucket.

Some tables that evidence reads are written by Vigie but are not derived from the
events: the registry (``subjects`` and ``subject_versions``, by which a leak is linked and
dated), ``assignments`` (whose scope a canary trip names), ``canary_contacts`` (by which
a trip finds its canary) and ``incident_exposures`` (the authority pack's counts, whom
notices go to). Each is *sealed*: partitioned into buckets of 1,024 consecutive person
ids (per incident for exposures), and the SHA-256 of every bucket a writer changes is
put in that writer's own audit event, in the same transaction::

    {"seals": {"registry": {"12": [345, "<hex digest, or null when emptied>"]}}}

``345`` is the event that sealed the bucket before (0: never), so the seals of a bucket
form a chain inside the trail. ``audit_seal_heads`` keeps each bucket's last seal so a
writer finds it without reading the trail.

- **Check before write.** Before changing a bucket, a writer recomputes its digest and
  compares it with the last seal; a difference raises :class:`IntegrityError` and
  nothing is written (otherwise the write would seal earlier tampering as its own).
- **Verify.** :func:`vigie.audit.seal_check.check_seals` (called by
  :func:`vigie.audit.verify.verify_trail`, in its snapshot) follows the seal chain of
  every bucket through the events, requires ``audit_seal_heads`` to equal it, and
  recomputes every bucket from the rows: a bucket that differs from its last seal, holds
  rows but was never sealed, or was sealed with rows and has none, is an
  :class:`IntegrityError` naming the table, the bucket and the event — never a value.

A bucket's digest is over its rows in a total order (person, then primary key), one
compact JSON array a line, each value in the form SQLite stores it (ISO dates, UTC
timestamps as ``YYYY-MM-DD HH:MM:SS.ffffff``, booleans 0/1, JSON parsed); PostgreSQL's
typed values are written the same way (:func:`canonical_rows`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sqlite3
from collections.abc import Callable, Collection, Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import JSON, Boolean, Connection, Date, DateTime
from sqlalchemy.orm import Session

from vigie.audit import trail
from vigie.audit.actions import Action
from vigie.errors import IntegrityError
from vigie.registry.models import VERSIONED_FIELDS
from vigie.store import raw

SHIFT = 10  # a bucket holds the rows of 2**SHIFT consecutive person ids
BATCH = 20_000
_FORMAT = b"vigie-seal-1\n"
_EMPTY = hashlib.sha256(b"").digest()
_first = itemgetter(0)


@dataclass(frozen=True)
class Part:
    """One table of a sealed set: its columns (hashed), person column, and total order."""

    table: str
    columns: tuple[str, ...]
    subject: str
    order: str  # SQL ORDER BY: the seal's scope (if any), the person, then what is unique


@dataclass(frozen=True)
class Seal:
    """A sealed set of tables, bucketed by person id (and by ``scope`` when given)."""

    name: str
    parts: tuple[Part, ...]
    scope: str | None = None  # e.g. "incident_id": buckets never span two incidents

    def key(self, subject_id: int, scope: int | None = None) -> str:
        """The bucket of a row."""
        bucket = str(int(subject_id) >> SHIFT)
        return bucket if self.scope is None else f"{int(scope or 0)}:{bucket}"

    def keys(self, subject_ids: Iterable[int], scope: int | None = None) -> set[str]:
        """The buckets of many rows."""
        return {self.key(s, scope) for s in subject_ids}

    def describe(self, key: str) -> str:
        """The bucket for a message (ids only)."""
        scope, bucket = self._split(key)
        low = bucket << SHIFT
        where = f"bucket {bucket} (person ids {low}..{low + (1 << SHIFT) - 1})"
        return where if self.scope is None else f"incident {scope}, {where}"

    def _split(self, key: str) -> tuple[int | None, int]:
        if self.scope is None:
            return None, int(key)
        scope, _, bucket = key.partition(":")
        return int(scope), int(bucket)


REGISTRY = Seal(
    "registry",
    (
        Part(
            "subjects",
            ("id", "ref", *VERSIONED_FIELDS, "is_canary", "version", "valid_from"),
            "id",
            "id",
        ),
        Part(
            "subject_versions",
            ("subject_id", "version", *VERSIONED_FIELDS, "valid_from", "valid_to"),
            "subject_id",
            "subject_id, version",
        ),
    ),
)
"""The people as they are and as they were (linking and dating read both)."""

ASSIGNMENTS = Seal(
    "assignments",
    (
        Part(
            "assignments",
            ("id", "contract_id", "processor_id", "subject_id", "starts_on", "ends_on"),
            "subject_id",
            "subject_id, id",
        ),
    ),
)
"""Which contracts' scopes hold each person (a canary trip names these processors)."""

CANARY_CONTACTS = Seal(
    "canary_contacts",
    (
        Part(
            "canary_contacts", ("id", "subject_id", "kind", "value"), "subject_id", "subject_id, id"
        ),
    ),
)
"""The contacts by which a canary trip finds its canary."""

EXPOSURES = Seal(
    "incident_exposures",
    (
        Part(
            "incident_exposures",
            ("incident_id", "subject_id", "fields", "recorded_at"),
            "subject_id",
            "incident_id, subject_id",
        ),
    ),
    scope="incident_id",
)
"""Who had which fields exposed in each incident (the authority pack, the notices)."""

SEALS: tuple[Seal, ...] = (REGISTRY, ASSIGNMENTS, CANARY_CONTACTS, EXPOSURES)
BY_NAME = {s.name: s for s in SEALS}
SEALING_ACTIONS = (
    Action.SUBJECT_SYNTH,
    Action.SUBJECT_IMPORT,
    Action.CANARY_PLANT,
    Action.ASSIGNMENT_CHANGE,
    Action.CONTRACT_DELETE,
    Action.INCIDENT_DECIDE,
    Action.AUDIT_SEAL,
)
"""The only actions whose events may carry seals (verify reads these)."""


# --- digests ---------------------------------------------------------------------------


def _kinds(part: Part) -> tuple[str | None, ...]:
    """How each column is made canonical: "date", "datetime", "bool", "json" or as is."""
    from vigie.store.models import load_metadata

    table = load_metadata().tables[part.table]
    out: list[str | None] = []
    for name in part.columns:
        kind = table.c[name].type
        impl = getattr(kind, "impl", kind)
        if isinstance(impl, DateTime):
            out.append("datetime")
        elif isinstance(impl, Date):
            out.append("date")
        elif isinstance(impl, Boolean):
            out.append("bool")
        elif isinstance(impl, JSON):
            out.append("json")
        else:
            out.append(None)
    return tuple(out)


def _utc_text(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


# The canonical value of each kind is what SQLite stores for it (SQLAlchemy's ISO text,
# 0/1), so SQLite rows need no conversion but JSON's; PostgreSQL's typed values are
# written the same way.
_PG: dict[str | None, Callable[[Any], Any]] = {
    "date": lambda v: v.isoformat(),
    "datetime": _utc_text,
    "bool": int,
    "json": lambda v: v,
}
_SQLITE: dict[str | None, Callable[[Any], Any]] = {"json": json.loads}


@dataclass(frozen=True)
class _Reader:
    """The SQL of one sealed table and how its rows are made canonical, on one dialect.

    ``lines_sql`` (SQLite, a table without JSON columns or scope): every row's bucket and
    canonical line, made by SQLite's ``json_array`` — the bytes ``orjson`` writes for the
    same values (``tests/audit/test_seals.py`` holds the two to it), without a Python
    object per value."""

    bucket_sql: str
    all_sql: str
    convert: tuple[tuple[int, Callable[[Any], Any]], ...]
    lines_sql: str | None = None

    def rows(self, rows: list[Any]) -> list[Any]:
        if not self.convert:
            return rows
        out = []
        for row in rows:
            values = list(row)
            for i, fn in self.convert:
                if values[i] is not None:
                    values[i] = fn(values[i])
            out.append(values)
        return out


@cache
def _reader(seal: Seal, part: Part, dialect: str) -> _Reader:
    mark = "?" if dialect == "sqlite" else "%s"
    scope = f"{seal.scope} = {mark} AND " if seal.scope else ""
    columns = ", ".join(part.columns)
    table = _SQLITE if dialect == "sqlite" else _PG
    convert = tuple((i, table[k]) for i, k in enumerate(_kinds(part)) if k in table)
    lines = dialect == "sqlite" and not convert and seal.scope is None
    return _Reader(
        bucket_sql=f"SELECT {columns} FROM {part.table} WHERE {scope}{part.subject} >= {mark} "
        f"AND {part.subject} < {mark} ORDER BY {part.order}",
        all_sql=f"SELECT {columns} FROM {part.table} ORDER BY {part.order}",
        convert=convert,
        lines_sql=f"SELECT {part.subject} >> {SHIFT}, json_array({columns}) || char(10) "
        f"FROM {part.table} ORDER BY {part.order}"
        if lines
        else None,
    )


def canonical_rows(seal: Seal, part: Part, dialect: str, rows: list[Any]) -> bytes:
    """The bytes hashed for ``rows`` of ``part`` as the driver of ``dialect`` returns them:
    one compact JSON array a line. Raises ``ValueError``/``TypeError`` on a value of a
    type the column cannot hold."""
    canonical = _reader(seal, part, dialect).rows(rows)
    return b"".join(orjson.dumps(r) + b"\n" for r in canonical)


def _combine(seal: Seal, key: str, parts: list[bytes]) -> bytes:
    h = hashlib.sha256(_FORMAT + f"{seal.name}\n{key}\n".encode())
    for part in parts:
        h.update(part)
    return h.digest()


def _wrong_type(seal: Seal, part: Part, key: str) -> str:
    return (
        f"{seal.name}: {part.table}, {seal.describe(key)}: a row holds a value of the wrong "
        "type (altered behind Vigie's back)"
    )


def bucket_digest(
    conn: Connection, seal: Seal, key: str, *, fresh: Collection[int] = ()
) -> bytes | None:
    """The digest of one bucket as stored now, in ``conn``'s transaction (None: no rows).
    Rows of the first table whose person is in ``fresh`` (just inserted by the caller,
    new ids) are left out."""
    scope, bucket = seal._split(key)
    bounds = (bucket << SHIFT, (bucket + 1) << SHIFT)
    params = bounds if scope is None else (scope, *bounds)
    dialect = conn.dialect.name
    cur = _dbapi(conn).cursor()
    found = False
    hashes = []
    try:
        for i, part in enumerate(seal.parts):
            cur.execute(_reader(seal, part, dialect).bucket_sql, params)
            rows = cur.fetchall()
            if i == 0 and fresh:
                at = part.columns.index(part.subject)
                rows = [r for r in rows if r[at] not in fresh]
            try:
                lines = canonical_rows(seal, part, dialect, rows)
            except (ValueError, TypeError):
                raise IntegrityError(_wrong_type(seal, part, key)) from None
            found = found or bool(rows)
            hashes.append(hashlib.sha256(lines).digest())
    finally:
        cur.close()
    return _combine(seal, key, hashes) if found else None


def _key_of(seal: Seal, part: Part) -> Callable[[Any], str]:
    """The bucket of a row of ``part`` as selected by its reader."""
    subject = part.columns.index(part.subject)
    if seal.scope is None:
        return lambda r: str(r[subject] >> SHIFT)
    scope = part.columns.index(seal.scope)
    return lambda r: f"{r[scope]}:{r[subject] >> SHIFT}"


def scan(dbapi: Any, dialect: str, seal: Seal) -> tuple[dict[str, bytes], int]:
    """The digest of every bucket that holds rows, and how many rows (one streamed pass
    per table; a server-side cursor on PostgreSQL; on SQLite the canonical lines made in
    SQL when every table has them)."""
    readers = [_reader(seal, part, dialect) for part in seal.parts]
    hashed = None
    if all(r.lines_sql for r in readers):
        # A value JSON cannot hold (a blob, written behind Vigie's back) stops SQLite: the
        # row-by-row pass below then names the bucket.
        with suppress(sqlite3.OperationalError):
            hashed = _hash_lines(dbapi, seal, [str(r.lines_sql) for r in readers])
    hashers, rows_seen = hashed or _hash_rows(dbapi, dialect, seal)
    return _digests(seal, hashers), rows_seen


Take = Callable[[int, list[Any]], bool]
"""Given a part's index and a batch of its rows' extra values; False stops the scan."""


class _Stopped(Exception):
    pass


def scan_along(
    dbapi: Any, seal: Seal, extra: list[tuple[str, str]], take: Take
) -> tuple[dict[str, bytes], int] | None:
    """:func:`scan` on SQLite, selecting one more value per row in the same read.

    ``extra[i]`` is ``(join, expression)`` for part ``i``: a join clause and an SQL
    expression over the part's table as ``t`` (and what the join names); the values reach
    ``take(i, values)`` batch by batch, in the seal's order, the rows each batch hashes.
    None — nothing to use, the caller reads otherwise — when ``take`` returns False or
    the lines cannot be made in SQL (a value JSON cannot hold). The digests are those of
    :func:`scan` (``tests/audit/test_seals.py`` holds the two to it)."""
    queries = []
    for part, (join, expression) in zip(seal.parts, extra, strict=True):
        if not _reader(seal, part, "sqlite").lines_sql:
            return None
        columns = ", ".join(f"t.{c}" for c in part.columns)
        order = ", ".join(f"t.{o.strip()}" for o in part.order.split(","))
        queries.append(
            f"SELECT t.{part.subject} >> {SHIFT}, json_array({columns}) || char(10), "
            f"{expression} FROM {part.table} t {join} ORDER BY {order}"
        )
    try:
        hashers, rows_seen = _hash_lines(dbapi, seal, queries, take)
    except (sqlite3.OperationalError, _Stopped):
        return None
    return _digests(seal, hashers), rows_seen


def _digests(seal: Seal, hashers: dict[str, list[Any]]) -> dict[str, bytes]:
    return {
        k: _combine(seal, k, [_EMPTY if h is None else h.digest() for h in slot])
        for k, slot in hashers.items()
    }


def _hash_lines(
    dbapi: Any, seal: Seal, queries: list[str], take: Take | None = None
) -> tuple[dict[str, list[Any]], int]:
    """Each bucket's hashes, from ``(bucket, line)`` rows in the seal's order (``(bucket,
    line, extra)`` with ``take``, which gets each batch's extra values)."""
    hashers: dict[str, list[Any]] = {}
    rows_seen = 0
    for i, sql in enumerate(queries):
        cur = dbapi.cursor()
        try:
            cur.execute(sql)
            while batch := cur.fetchmany(BATCH):
                rows_seen += len(batch)
                if take is not None and not take(i, [r[2] for r in batch]):
                    raise _Stopped
                for k, group in itertools.groupby(batch, _first):
                    slot = hashers.setdefault(str(k), [None] * len(seal.parts))
                    if slot[i] is None:
                        slot[i] = hashlib.sha256()
                    slot[i].update("".join([r[1] for r in group]).encode())
        finally:
            cur.close()
    return hashers, rows_seen


def _hash_rows(dbapi: Any, dialect: str, seal: Seal) -> tuple[dict[str, list[Any]], int]:
    """Each bucket's hashes, row by row through :func:`canonical_rows`."""
    hashers: dict[str, list[Any]] = {}
    rows_seen = 0
    for i, part in enumerate(seal.parts):
        key = _key_of(seal, part)
        pg = dialect == "postgresql"
        cur = dbapi.cursor(name=f"vigie_seal_{part.table}") if pg else dbapi.cursor()
        try:
            cur.execute(_reader(seal, part, dialect).all_sql)
            while batch := cur.fetchmany(BATCH):
                rows_seen += len(batch)
                for k, group in itertools.groupby(batch, key):
                    slot = hashers.setdefault(k, [None] * len(seal.parts))
                    if slot[i] is None:
                        slot[i] = hashlib.sha256()
                    try:
                        slot[i].update(canonical_rows(seal, part, dialect, list(group)))
                    except (ValueError, TypeError):
                        raise IntegrityError(_wrong_type(seal, part, k)) from None
        finally:
            cur.close()
    return hashers, rows_seen


# --- writing ---------------------------------------------------------------------------

_HEADS = raw.Statement("SELECT bucket, seq, digest FROM audit_seal_heads WHERE name = ?")
_HEADS_IN = raw.Statement(
    "SELECT bucket, seq, digest FROM audit_seal_heads WHERE name = ? AND bucket IN ({list})"
)
_DROP_HEAD = raw.Statement("DELETE FROM audit_seal_heads WHERE name = ? AND bucket = ?")
_PUT_HEAD = raw.Statement(
    "INSERT INTO audit_seal_heads (name, bucket, seq, digest) VALUES (?, ?, ?, ?)"
)
_IN_LIMIT = 500

Head = tuple[int, bytes | None]  # (event that last sealed the bucket, digest)


class Sealing:
    """The seals of one writer's transaction: check the buckets it will change, then
    append its event with their new digests (:meth:`append`).

    Usage::

        sealing = Sealing(session)
        sealing.check(REGISTRY, REGISTRY.keys(ids))  # before any write; may raise
        ...  # the writes
        seq = sealing.append(action=..., actor=..., detail=...)
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self._checked: dict[Seal, dict[str, Head]] = {}
        self._whole: set[Seal] = set()

    def check(self, seal: Seal, keys: Iterable[str], *, fresh: Collection[int] = ()) -> None:
        """Refuse (:class:`IntegrityError`, nothing written) when a bucket in ``keys``
        differs from its last seal. Takes the trail's lock, so no other writer seals
        in between. ``fresh``: ids the caller has just inserted (see :func:`bucket_digest`)."""
        checked = self._checked.setdefault(seal, {})
        todo = sorted(set(keys) - checked.keys())
        if not todo:
            return
        conn = self.session.connection()
        trail.lock_head(conn)
        cursor = raw.cursor_of(conn)
        heads = _heads(cursor, seal, todo)
        for key in todo:
            head = heads.get(key, (0, None))
            if bucket_digest(conn, seal, key, fresh=fresh) != head[1]:
                raise IntegrityError(_refusal(seal, key, head))
            checked[key] = head

    def check_all(self, seal: Seal, *, adopt: bool = False) -> None:
        """:meth:`check` every bucket of ``seal``, and re-read them all at :meth:`append`
        (a bulk writer). ``adopt``: a bucket never sealed is taken as it is (re-seal)."""
        conn = self.session.connection()
        trail.lock_head(conn)
        cursor = raw.cursor_of(conn)
        heads = _heads(cursor, seal, None)
        checked = self._checked.setdefault(seal, {})
        if adopt and not heads:  # nothing sealed: every bucket is adopted, no need to read
            self._whole.add(seal)  # them twice (append reads them all)
            return
        digests, _ = scan(_dbapi(conn), conn.dialect.name, seal)
        for key in sorted(digests.keys() | heads.keys(), key=order):
            head = heads.get(key, (0, None))
            if digests.get(key) != head[1] and not (adopt and key not in heads):
                raise IntegrityError(_refusal(seal, key, head))
            checked[key] = head
        self._whole.add(seal)

    def seals(self) -> dict[str, dict[str, list[Any]]]:
        """The new seals of the checked buckets that changed (flushes the session)."""
        self.session.flush()
        conn = self.session.connection()
        out: dict[str, dict[str, list[Any]]] = {}
        for seal, checked in self._checked.items():
            if seal in self._whole:
                digests, _ = scan(_dbapi(conn), conn.dialect.name, seal)
                now = {k: digests.get(k) for k in digests.keys() | checked.keys()}
            else:
                now = {k: bucket_digest(conn, seal, k) for k in checked}
            entries = {
                k: [checked.get(k, (0, None))[0], None if d is None else d.hex()]
                for k, d in sorted(now.items(), key=lambda kv: order(kv[0]))
                if d != checked.get(k, (0, None))[1]
            }
            if entries:
                out[seal.name] = entries
        return out

    def append(self, *, detail: Mapping[str, Any] | None = None, **event: Any) -> int:
        """Append the writer's event with its seals in ``detail``; record the new heads."""
        seals = self.seals()
        payload = {**(detail or {}), "seals": seals} if seals else detail
        seq = trail.append(self.session, detail=payload, **event)
        cursor = raw.cursor(self.session)
        for name, entries in seals.items():
            seal = BY_NAME[name]
            cursor.many(_DROP_HEAD, [(name, k) for k in entries])
            heads = {
                k: (seq, None if d is None else bytes.fromhex(d)) for k, (_, d) in entries.items()
            }
            cursor.many(_PUT_HEAD, [(name, k, s, d) for k, (s, d) in heads.items()])
            self._checked[seal].update(heads)
        return seq


def reseal(session: Session, *, actor: str) -> dict[str, int]:
    """Seal the buckets that were never sealed (an instance from before seals), as they
    are, in one ``audit:seal`` event; a sealed bucket that differs from its seal is
    refused, not re-sealed. Returns the buckets sealed per table (empty: nothing to do)."""
    sealing = Sealing(session)
    for seal in SEALS:
        sealing.check_all(seal, adopt=True)
    seals = sealing.seals()
    if not seals:
        return {}
    counts = {name: len(entries) for name, entries in seals.items()}
    sealing.append(action=Action.AUDIT_SEAL, actor=actor, detail={"buckets": counts})
    return counts


def _dbapi(conn: Any) -> Any:
    return conn.connection.driver_connection


def order(key: str) -> tuple[int, ...]:
    return tuple(int(p) for p in key.split(":"))


def state_digest(seal: Seal, digests: Mapping[str, bytes | None]) -> bytes:
    """One digest of a whole sealed set, from each bucket's digest (None: no rows).

    Equal for the buckets :func:`scan` computes from the rows and for the last seals the
    trail holds exactly when :func:`vigie.audit.seal_check.check_seals` would find every
    bucket as last sealed: a copy of the rows checked this way (the leak triage's registry
    snapshot) is bound to the trail's state of the set by this one value."""
    h = hashlib.sha256(_FORMAT + f"{seal.name}\nstate\n".encode())
    for key, digest in sorted(digests.items(), key=lambda item: order(item[0])):
        if digest is not None:
            h.update(f"{key} {digest.hex()}\n".encode())
    return h.digest()


def _heads(cursor: raw.Cursor, seal: Seal, keys: list[str] | None) -> dict[str, Head]:
    if keys is None:
        rows = cursor.all(_HEADS, (seal.name,))
    else:
        rows = []
        for i in range(0, len(keys), _IN_LIMIT):
            chunk = keys[i : i + _IN_LIMIT]
            rows += cursor.all(_HEADS_IN.sized(len(chunk)), (seal.name, *chunk))
    return {str(k): (int(s), None if d is None else bytes(d)) for k, s, d in rows}


def _refusal(seal: Seal, key: str, head: Head) -> str:
    where = f"{seal.name}: {seal.describe(key)}"
    if not head[0]:
        return (
            f"{where} holds rows that no seal covers (written behind Vigie's back, or before "
            "seals); nothing written — run `vigie audit verify`"
        )
    return (
        f"{where} no longer matches its seal by event {head[0]}: the store was altered "
        "behind Vigie's back; nothing written — run `vigie audit verify`"
    )
