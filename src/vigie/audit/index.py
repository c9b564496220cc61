"""The served index: who received whom, which fields, and when.

Maintained by :func:`vigie.audit.trail.append` in the same transaction as each
disclosure event (``subject:read`` / ``subject:list`` with a processor and outcome
``ok``), so it is exactly as complete as the trail. Leak attribution and breach scoping
read it through :func:`recipients`, :func:`received_by` and :func:`fields_received`,
which use indexed tables, never a scan of the events.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from vigie.audit.models import DISCLOSURES, PROCESSOR_FIELDS, RECEIPTS, from_us, to_us

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


@dataclass(frozen=True)
class Disclosure:
    """What one disclosure event adds to the index (built by the trail)."""

    seq: int
    at_us: int
    processor_id: int
    subject_ids: Sequence[int]
    fields: str  # canonical: sorted names joined by ","


def _split(fields: str) -> frozenset[str]:
    return frozenset(fields.split(",")) if fields else frozenset()


def _join(fields: frozenset[str]) -> str:
    return ",".join(sorted(fields))


def recipients(session: Session, *, subject_ids: Collection[int]) -> list[Receipt]:
    """Every (processor, person) receipt for these people, ordered by person then processor."""
    ids = sorted(set(subject_ids))
    out: list[Receipt] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        rows = session.execute(
            select(_receipts)
            .where(_receipts.c.subject_id.in_(chunk))
            .order_by(_receipts.c.subject_id, _receipts.c.processor_id)
        )
        out.extend(
            Receipt(
                processor_id=r.processor_id,
                subject_id=r.subject_id,
                fields=_split(r.fields),
                first_at=from_us(r.first_us),
                last_at=from_us(r.last_us),
                first_seq=r.first_seq,
                last_seq=r.last_seq,
            )
            for r in rows
        )
    return out


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


def record(conn: Connection, disclosures: Sequence[Disclosure]) -> None:
    """Add disclosure events to the index; the caller holds the chain-head lock."""
    merged: dict[
        tuple[int, int], list[Any]
    ] = {}  # (proc, subject) -> [fields, f_us, l_us, f_seq, l_seq]
    rows: list[dict[str, int]] = []
    pairs: set[tuple[int, str]] = set()
    for d in disclosures:
        names = _split(d.fields)
        pairs.update((d.processor_id, f) for f in names)
        for sid in d.subject_ids:
            rows.append(
                {"seq": d.seq, "subject_id": sid, "processor_id": d.processor_id, "at_us": d.at_us}
            )
            cur = merged.get((d.processor_id, sid))
            if cur is None:
                merged[(d.processor_id, sid)] = [names, d.at_us, d.at_us, d.seq, d.seq]
            else:
                cur[0] = cur[0] | names
                cur[1] = min(cur[1], d.at_us)
                cur[2] = max(cur[2], d.at_us)
                cur[4] = d.seq
    if not rows:
        return
    conn.execute(_disclosures.insert(), rows)
    _merge_receipts(conn, merged)
    if pairs:
        ins = pg_insert(_fields) if conn.dialect.name == "postgresql" else sqlite_insert(_fields)
        conn.execute(
            ins.on_conflict_do_nothing(),
            [{"processor_id": p, "field": f} for p, f in sorted(pairs)],
        )


def _merge_receipts(conn: Connection, merged: dict[tuple[int, int], list[Any]]) -> None:
    by_processor: dict[int, list[int]] = {}
    for proc, sid in merged:
        by_processor.setdefault(proc, []).append(sid)
    existing: dict[tuple[int, int], Any] = {}
    for proc, sids in by_processor.items():
        for start in range(0, len(sids), _CHUNK):
            chunk = sids[start : start + _CHUNK]
            for r in conn.execute(
                select(_receipts).where(
                    _receipts.c.processor_id == proc, _receipts.c.subject_id.in_(chunk)
                )
            ):
                existing[(r.processor_id, r.subject_id)] = r
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for (proc, sid), (names, f_us, l_us, f_seq, l_seq) in merged.items():
        old = existing.get((proc, sid))
        if old is None:
            inserts.append(
                {
                    "processor_id": proc,
                    "subject_id": sid,
                    "fields": _join(names),
                    "first_us": f_us,
                    "last_us": l_us,
                    "first_seq": f_seq,
                    "last_seq": l_seq,
                }
            )
        else:
            updates.append(
                {
                    "p": proc,
                    "s": sid,
                    "fields": _join(names | _split(old.fields)),
                    "first_us": min(f_us, old.first_us),
                    "last_us": max(l_us, old.last_us),
                    "last_seq": l_seq,
                }
            )
    if inserts:
        conn.execute(_receipts.insert(), inserts)
    if updates:
        conn.execute(
            update(_receipts)
            .where(
                _receipts.c.processor_id == bindparam("p"),
                _receipts.c.subject_id == bindparam("s"),
            )
            .values(
                fields=bindparam("fields"),
                first_us=bindparam("first_us"),
                last_us=bindparam("last_us"),
                last_seq=bindparam("last_seq"),
            ),
            updates,
        )
