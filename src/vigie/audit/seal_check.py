"""Verifying the sealed tables (:mod:`vigie.audit.seals`) against the trail.

:func:`check_seals` runs in the read snapshot in which
:func:`vigie.audit.verify.verify_trail` checks the chain. It follows the seals of every
bucket through the events that may carry them (each seal must name the previous seal
of its bucket), requires ``audit_seal_heads`` to equal the last seals, and recomputes
every bucket from the rows: a bucket that differs from its last seal, holds rows that no
seal covers, or was sealed with rows and has none, is an :class:`IntegrityError` naming
the set, the bucket and the event — never a value.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Dialect

from vigie.audit.gather import Gathered
from vigie.audit.seals import (
    BY_NAME,
    SEALING_ACTIONS,
    SEALS,
    Head,
    Seal,
    order,
    scan,
    state_digest,
)
from vigie.errors import IntegrityError


@dataclass(frozen=True)
class Sealed:
    """What verify found bound for one sealed set.

    ``state``: :func:`vigie.audit.seals.state_digest` of the set's last seals in the
    trail; ``recomputed``: whether its rows were read and found as last sealed (else
    ``rows`` is 0 and ``buckets`` counts the sealed buckets)."""

    rows: int
    buckets: int
    state: bytes = b""
    recomputed: bool = True


def check_seals(
    dbapi: Any,
    dialect: Dialect,
    gathered: Gathered | None = None,
    *,
    recompute: Collection[Seal] = SEALS,
) -> dict[str, Sealed]:
    """Check every sealed table against the seals in the trail, in the caller's snapshot;
    return what each binds. Raises :class:`IntegrityError` at the first difference.
    ``gathered``: the events :func:`vigie.audit.gather.gather` read (else read here).
    ``recompute``: the sets whose rows are read and recomputed (every one by default);
    the seal chains and heads of all are checked whatever it holds."""
    actions = [a.value for a in SEALING_ACTIONS]
    cur = dbapi.cursor()
    try:
        if gathered is None:
            mark = "?" if dialect.paramstyle == "qmark" else "%s"
            marks = ", ".join([mark] * len(actions))
            cur.execute(
                f"SELECT seq, detail FROM audit_events WHERE action IN ({marks}) "
                "AND detail IS NOT NULL ORDER BY seq",
                actions,
            )
            found = [(seq, d) for seq, d in cur.fetchall()]
        else:
            found = [(seq, d) for seq, a, _, d in gathered.others if a in actions and d]
        events = [(seq, d) for seq, d in found if '"seals"' in d]
        cur.execute("SELECT name, bucket, seq, digest FROM audit_seal_heads")
        stored = {(str(n), str(k)): (int(s), None if d is None else bytes(d))
                  for n, k, s, d in cur.fetchall()}  # fmt: skip
    finally:
        cur.close()
    last = _follow(events)
    for name, key in sorted(stored.keys() | last.keys()):
        want, have = last.get((name, key)), stored.get((name, key))
        if want != have:
            seal = BY_NAME.get(name)
            where = f"{name}, {seal.describe(key) if seal else 'bucket ' + key}"
            raise IntegrityError(
                f"seal heads: {where}: the side table says "
                + (f"event {have[0]}" if have else "nothing")
                + ", the trail says "
                + (f"event {want[0]}" if want else "nothing")
                + " (audit_seal_heads was altered)"
            )
    out = {}
    for seal in SEALS:
        sealed = {k: v for (n, k), v in last.items() if n == seal.name}
        state = state_digest(seal, {k: d for k, (_s, d) in sealed.items()})
        if seal not in recompute:
            out[seal.name] = Sealed(rows=0, buckets=len(sealed), state=state, recomputed=False)
            continue
        digests, rows = scan(dbapi, dialect.name, seal)
        for key in sorted(digests.keys() | sealed.keys(), key=order):
            seq, digest = sealed.get(key, (0, None))
            have_rows = digests.get(key)
            if have_rows == digest:
                continue
            where = f"{seal.name}: {seal.describe(key)}"
            if digest is None:
                raise IntegrityError(
                    f"{where} holds rows that no seal covers"
                    + (f" (emptied by event {seq})" if seq else "")
                    + ": added behind Vigie's back, or written before seals (see "
                    "`vigie audit seal`)"
                )
            if have_rows is None:
                raise IntegrityError(
                    f"{where}, sealed by event {seq}, has no rows left (deleted behind Vigie's "
                    "back)"
                )
            raise IntegrityError(
                f"{where} no longer matches its seal (event {seq}): a row was altered, added "
                "or removed behind Vigie's back"
            )
        out[seal.name] = Sealed(rows=rows, buckets=len(digests), state=state)
    return out


def _follow(events: Iterable[tuple[Any, Any]]) -> dict[tuple[str, str], Head]:
    """The last seal of every bucket, each seal's ``prev`` checked against the one before."""
    last: dict[tuple[str, str], Head] = {}
    for seq, detail in events:
        try:
            seals = json.loads(detail)["seals"]
            items = [
                (name, str(key), int(prev), None if d is None else bytes.fromhex(d))
                for name, buckets in seals.items()
                for key, (prev, d) in buckets.items()
            ]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise IntegrityError(f"event {seq}: its seals are malformed") from None
        for name, key, prev, digest in items:
            seal = BY_NAME.get(name)
            if seal is None:
                raise IntegrityError(f"event {seq}: it seals an unknown table {name!r}")
            before = last.get((name, key), (0, None))[0]
            if prev != before:
                raise IntegrityError(
                    f"{name}: {seal.describe(key)}: event {seq} seals it after event {prev}, "
                    f"but its last seal before was "
                    + (f"event {before}" if before else "none")
                    + " (a writer was shown an older seal: audit_seal_heads was altered)"
                )
            last[(name, key)] = (int(seq), digest)
    return last
