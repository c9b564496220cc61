"""The served index: who received whom, which fields, and when.

Maintained by :func:`vigie.audit.trail.append` in the same transaction as each
disclosure event (``subject:read`` / ``subject:list`` with a processor and outcome
``ok``), so it is exactly as complete as the trail. Leak attribution and breach scoping
read it through :func:`recipients`, :func:`received_by` and :func:`fields_received`,
which use indexed tables, never a scan of the events. It is evidence only because
``vigie audit verify`` recomputes it from the verified events and compares it row for
row (:mod:`vigie.audit.evidence`, which states the rules :func:`record` follows).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigie.audit.models import DISCLOSURES, PROCESSOR_FIELDS, RECEIPTS, from_us, to_us
from vigie.store import raw

_receipts = RECEIPTS
_disclosures = DISCLOSURES
_fields = PROCESSOR_FIELDS
_CHUNK = 500


@dataclass(frozen=True)
class Receipt:
    """Processor ``processor_id`` received person ``subject_id``: these fields, first and last."""

    processor_id: int
    subject_id: int
    fields: frozenset[str]
    first_at: datetime
    last_at: datetime
    first_seq: int
    last_seq: int


class Disclosure(NamedTuple):
    """What one disclosure event adds to the index (built by the trail, a batch at a time)."""

    seq: int
    at_us: int
    processor_id: int
    subject_ids: Sequence[int]
    fields: str  # canonical: sorted names joined by ","


def _split(fields: str) -> frozenset[str]:
    return frozenset(fields.split(",")) if fields else frozenset()


def recipients(session: Session, *, subject_ids: Collection[int]) -> list[Receipt]:
    """Every (processor, person) receipt for these people, ordered by person then processor."""
    ids = sorted(set(subject_ids))
    merged: dict[tuple[int, int], list[Any]] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for r in session.execute(select(_receipts).where(_receipts.c.subject_id.in_(chunk))):
            cur = merged.get((r.subject_id, r.processor_id))
            if cur is None:
                merged[(r.subject_id, r.processor_id)] = [
                    _split(r.fields),
                    r.first_us,
                    r.last_us,
                    r.first_seq,
                    r.last_seq,
                ]
            else:
                cur[0] = cur[0] | _split(r.fields)
                cur[1], cur[3] = min(cur[1], r.first_us), min(cur[3], r.first_seq)
                cur[2], cur[4] = max(cur[2], r.last_us), max(cur[4], r.last_seq)
    return [
        Receipt(
            processor_id=proc,
            subject_id=sid,
            fields=frozenset(names),
            first_at=from_us(f_us),
            last_at=from_us(l_us),
            first_seq=f_seq,
            last_seq=l_seq,
        )
        for (sid, proc), (names, f_us, l_us, f_seq, l_seq) in sorted(merged.items())
    ]


def receipt(session: Session, *, processor_id: int, subject_id: int) -> Receipt | None:
    """What processor ``processor_id`` received of person ``subject_id`` (None: nothing)."""
    for found in recipients(session, subject_ids=[subject_id]):
        if found.processor_id == processor_id:
            return found
    return None


def received_by(
    session: Session,
    *,
    processor_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
) -> set[int]:
    """Ids of the people processor ``processor_id`` received in ``[since, until]`` (inclusive)."""
    query = select(_disclosures.c.subject_id).where(_disclosures.c.processor_id == processor_id)
    if since is not None:
        query = query.where(_disclosures.c.at_us >= to_us(since))
    if until is not None:
        query = query.where(_disclosures.c.at_us <= to_us(until))
    return set(session.scalars(query.distinct()))


def fields_received(session: Session, *, processor_id: int) -> frozenset[str]:
    """Every field name ever disclosed to processor ``processor_id``."""
    query = select(_fields.c.field).where(_fields.c.processor_id == processor_id)
    return frozenset(session.scalars(query))


_UPSERT = (
    "INSERT INTO audit_receipts (processor_id, subject_id, fields, first_us, last_us, "
    "first_seq, last_seq) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (subject_id, processor_id, "
    "fields) DO UPDATE SET first_us = {lo}(audit_receipts.first_us, excluded.first_us), "
    "last_us = {hi}(audit_receipts.last_us, excluded.last_us), "
    "last_seq = {hi}(audit_receipts.last_seq, excluded.last_seq)"
)
# On the driver's cursor (:mod:`vigie.store.raw`): every disclosure updates the index.
_RECEIPTS = {
    "postgresql": raw.Statement(_UPSERT.format(lo="LEAST", hi="GREATEST")),
    "sqlite": raw.Statement(_UPSERT.format(lo="min", hi="max")),
}
# On PostgreSQL a batch goes as one statement over arrays (one parameter per column,
# dumped by the driver in C) instead of a pipelined statement per row: the sequencer
# integrates thousands of disclosures per transaction.
_RECEIPTS_ARRAYS = raw.Statement(
    _UPSERT.format(lo="LEAST", hi="GREATEST").replace(
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        "SELECT * FROM unnest(?::int[], ?::bigint[], ?::text[], ?::bigint[], ?::bigint[], "
        "?::bigint[], ?::bigint[])",
    )
)
_DISCLOSED_ARRAYS = raw.Statement(
    "INSERT INTO audit_disclosures (seq, subject_id, processor_id, at_us) "
    "SELECT * FROM unnest(?::bigint[], ?::bigint[], ?::int[], ?::bigint[])"
)
_DISCLOSED = raw.Statement(
    "INSERT INTO audit_disclosures (seq, subject_id, processor_id, at_us) VALUES (?, ?, ?, ?)"
)


@lru_cache(maxsize=64)
def _fields_insert(n: int) -> raw.Statement:
    """The (processor, field) pairs of a disclosure group in one statement (n rows)."""
    rows = ", ".join(["(?, ?)"] * n)
    return raw.Statement(
        f"INSERT INTO audit_processor_fields (processor_id, field) VALUES {rows} "
        "ON CONFLICT DO NOTHING"
    )


def record(cursor: raw.Cursor, disclosures: Sequence[Disclosure]) -> None:
    """Add disclosure events to the index; the caller holds the chain-head lock."""
    rows: list[tuple[int, int, int, int]] = []
    receipts: dict[tuple[int, int, str], list[int]] = {}  # -> [f_us, l_us, f_seq, l_seq]
    views: set[tuple[int, str]] = set()  # (processor, fields) disclosed with a person
    for seq, at_us, processor_id, subject_ids, fields in disclosures:
        if subject_ids:  # a field is disclosed with a person, not by an empty page
            views.add((processor_id, fields))
        for sid in subject_ids:
            rows.append((seq, sid, processor_id, at_us))
            key = (processor_id, sid, fields)
            cur = receipts.get(key)
            if cur is None:
                receipts[key] = [at_us, at_us, seq, seq]
            else:
                cur[0], cur[1], cur[3] = min(cur[0], at_us), max(cur[1], at_us), seq
    if not rows:
        return
    pairs = {(p, f) for p, fields in views for f in _split(fields)}
    upserts = [(p, s, f, *times) for (p, s, f), times in receipts.items()]
    if cursor.dialect.name == "postgresql" and len(rows) > 1:
        cursor.run(_DISCLOSED_ARRAYS, [raw.int_array(c) for c in zip(*rows, strict=True)])
        columns = list(zip(*upserts, strict=True))
        cursor.run(
            _RECEIPTS_ARRAYS,
            [raw.text_array(c) if i == 2 else raw.int_array(c) for i, c in enumerate(columns)],
        )
    else:
        cursor.many(_DISCLOSED, rows)
        cursor.many(_RECEIPTS[cursor.dialect.name], upserts)
    if pairs:
        cursor.run(_fields_insert(len(pairs)), [v for pair in sorted(pairs) for v in pair])
