"""The events the evidence checks need, read in one pass after the chain scan.

The served index, the canary flag, the processors' names and the checkpoint sequence are
checked against some of the chained events (:mod:`vigie.audit.evidence`,
:mod:`vigie.audit.anchors`). :func:`gather` reads them all with one query, in the read
snapshot the chain was verified in, and keeps:

- the disclosure events (``subject:read`` / ``subject:list`` with a processor and outcome
  ``ok``) as compact NumPy columns, one entry per (event, person) pair: processor, time,
  event, person, and a code for the event's field set — 40 bytes per pair, nothing kept
  per event; the people's delta-varints are decoded a whole batch at once;
- the few other events, whole: ``canary:plant``, ``processor:create``, ``audit:checkpoint``,
  and (in :attr:`Gathered.others`, for the sealed tables, the providers' requirements and
  the audit trail's own pruning)
  every event of :data:`WITH_DETAIL`.

The database filters the events and names each one's kind (:data:`KIND`), so the Python
side does no work per boring event. (Reading these columns during the chain scan instead,
for all events, was measured slower on SQLite: every event then pays for the extra
columns, where a filtered second pass pays only for the events it returns.) A fault in
the people's encoding is kept and raised by the index check, after the trail's own faults.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import compress
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vigie.audit.actions import Action
from vigie.errors import IntegrityError

Ints = NDArray[np.int64]
BATCH = 50_000

DISCLOSURE, CANARY_PLANT, PROCESSOR_CREATE, CHECKPOINT = range(1, 5)
KEPT_WHOLE = {
    Action.CANARY_PLANT.value: CANARY_PLANT,
    Action.PROCESSOR_CREATE.value: PROCESSOR_CREATE,
    Action.AUDIT_CHECKPOINT.value: CHECKPOINT,
}
"""Events kept whole, by action."""
WITH_DETAIL = (
    # may carry seals (vigie.audit.seals.SEALING_ACTIONS)
    Action.SUBJECT_SYNTH,
    Action.SUBJECT_IMPORT,
    Action.CANARY_PLANT,
    Action.ASSIGNMENT_CHANGE,
    Action.CONTRACT_DELETE,
    Action.INCIDENT_DECIDE,
    Action.AUDIT_SEAL,
    # bind the providers' requirements (vigie.requirements.evidence)
    Action.REQUIREMENT_CREATE,
    Action.REQUIREMENT_VERSION,
    Action.ATTESTATION_SUBMIT,
    Action.INSPECTION_RECORD,
    # announce the horizon of the pruned disclosures (vigie.audit.pruning)
    Action.AUDIT_PRUNE,
)
"""Events kept in :attr:`Gathered.others` (seq, action, processor, detail), by action."""
_OTHER = 8  # kinds from here on: WITH_DETAIL actions (not otherwise kept whole)
_ACTION_OF = {
    **{k: str(a) for a, k in KEPT_WHOLE.items()},
    **{_OTHER + i: a.value for i, a in enumerate(a for a in WITH_DETAIL if a not in KEPT_WHOLE)},
}
_CODE_OF = {a: k for k, a in _ACTION_OF.items()}
_DETAILED = frozenset(a.value for a in WITH_DETAIL)
_DISCLOSING = (
    "action IN ('subject:read', 'subject:list') AND outcome = 'ok' AND processor_id IS NOT NULL"
)
KIND = (
    f"CASE WHEN {_DISCLOSING} THEN {DISCLOSURE} "
    + " ".join(f"WHEN action = '{a}' THEN {k}" for a, k in _CODE_OF.items())
    + " END"
)
"""SQL: the kind of an event to the evidence checks (NULL: none of their business)."""
_WHOLE = ", ".join(f"'{a}'" for a in _CODE_OF)
_EVENTS = (
    f"SELECT seq, {KIND}, at_us, processor_id, fields, subjects, detail FROM audit_events "
    f"WHERE ({_DISCLOSING}) OR action IN ({_WHOLE}) "
    "ORDER BY seq"
)


def gather(raw: Any, dialect: str) -> Gathered:
    """Read the events the evidence checks need, on the DB-API connection ``raw`` (inside
    the snapshot the chain was verified in), batch by batch (server-side on PostgreSQL)."""
    out = Gathered()
    cur = raw.cursor(name="vigie_evidence_events") if dialect == "postgresql" else raw.cursor()
    try:
        cur.execute(_EVENTS)
        while rows := cur.fetchmany(BATCH):
            out.add(*zip(*rows, strict=True))
    finally:
        cur.close()
    return out


@dataclass
class Pairs:
    """The (event, person) pairs of the disclosure events, in event order."""

    processor: Ints
    at_us: Ints
    seq: Ints
    subject: Ints
    fields: Ints  # code of the event's field set: index into ``Gathered.names``


@dataclass
class Gathered:
    """The events the evidence checks need, gathered batch by batch by :func:`gather`."""

    names: list[str] = field(default_factory=list)  # field sets, by code
    pairs_of: dict[tuple[int, str], int] = field(default_factory=dict)  # -> first event
    planted: list[tuple[int, bytes]] = field(default_factory=list)  # canary:plant seq, people
    created: list[tuple[int, Any, Any]] = field(default_factory=list)  # seq, processor, detail
    announced: list[tuple[int, Any]] = field(default_factory=list)  # audit:checkpoint seq, detail
    others: list[tuple[int, str, Any, Any]] = field(default_factory=list)  # WITH_DETAIL events
    fault: IntegrityError | None = None  # the first bad encoding of people, raised later
    _codes: dict[str, int] = field(default_factory=dict)
    _parts: list[list[Ints | None]] = field(default_factory=list)

    def add(
        self,
        seqs: Sequence[int],
        kinds: Sequence[int],
        at_us: Sequence[int],
        processors: Sequence[Any],
        fields: Sequence[str],
        subjects: Sequence[bytes],
        details: Sequence[Any],
    ) -> None:
        """Take one batch of events, given column by column (``kinds`` as :data:`KIND`)."""
        k = np.fromiter(kinds, dtype=np.int8, count=len(kinds))
        for i in np.flatnonzero(k > DISCLOSURE).tolist():
            kind, seq = int(k[i]), int(seqs[i])
            if _ACTION_OF[kind] in _DETAILED:
                self.others.append((seq, _ACTION_OF[kind], processors[i], details[i]))
            if kind >= _OTHER:
                continue
            if kind == CANARY_PLANT:
                self.planted.append((seq, bytes(subjects[i])))
            elif kind == PROCESSOR_CREATE:
                self.created.append((seq, processors[i], details[i]))
            else:
                self.announced.append((seq, details[i]))
        mask = k == DISCLOSURE
        if self.fault is None and mask.any():
            try:
                self._disclosures(mask.tolist(), seqs, at_us, processors, fields, subjects)
            except IntegrityError as exc:
                self.fault = exc
            except (TypeError, ValueError, OverflowError):  # e.g. text where a number belongs
                self.fault = IntegrityError(
                    f"served index: a disclosure event among events {seqs[0]}..{seqs[-1]} "
                    "holds a value of the wrong type"
                )

    def _disclosures(
        self,
        sel: list[bool],
        seqs: Sequence[int],
        at_us: Sequence[int],
        processors: Sequence[Any],
        fields: Sequence[str],
        subjects: Sequence[bytes],
    ) -> None:
        seq = np.fromiter(compress(seqs, sel), dtype=np.int64)
        n = len(seq)
        procs = np.fromiter(compress(processors, sel), dtype=np.int64, count=n)
        times = np.fromiter(compress(at_us, sel), dtype=np.int64, count=n)
        sets = list(compress(fields, sel))
        codes = self._codes
        for name in set(sets) - codes.keys():
            codes[name] = len(self.names)
            self.names.append(name)
        code = np.fromiter(map(codes.__getitem__, sets), dtype=np.int64, count=n)
        counts, ids = decode(list(compress(subjects, sel)), seq)
        # Fields disclosed: the first event (with people) of each processor and field set.
        held = counts > 0
        p, c, s = procs[held], code[held], seq[held]
        order = np.lexsort((c, p))  # stable: the first of each group is its first event
        p, c, s = p[order], c[order], s[order]
        # (No event with people in this batch: no group, hence no first of one.)
        starts = np.flatnonzero(
            np.concatenate(([len(p) > 0], (p[1:] != p[:-1]) | (c[1:] != c[:-1])))
        )
        for proc, cd, first in zip(
            p[starts].tolist(), c[starts].tolist(), s[starts].tolist(), strict=True
        ):
            names = self.names[cd]
            for name in names.split(",") if names else ():
                self.pairs_of.setdefault((proc, name), first)
        self._parts.append(
            [
                np.repeat(procs, counts),
                np.repeat(times, counts),
                np.repeat(seq, counts),
                ids,
                np.repeat(code, counts),
            ]
        )

    def take_pairs(self) -> Pairs:
        """Every (event, person) pair, in event order, then person order; frees the batches
        column by column as they are joined, so memory holds the pairs about once."""
        parts, self._parts = self._parts, []
        columns: list[Ints] = []
        for i in range(5):
            columns.append(
                np.concatenate([p[i] for p in parts if p[i] is not None])
                if parts
                else np.zeros(0, np.int64)
            )
            for p in parts:
                p[i] = None
        return Pairs(*columns)


def decode(blobs: Sequence[bytes], seqs: Sequence[int] | Ints) -> tuple[Ints, Ints]:
    """Per event, how many ids; and all ids, in order (vectorised delta-LEB128).

    Raises :class:`IntegrityError` ("served index: event N: …") on a cut or oversized varint.
    """
    lengths = np.fromiter(map(len, blobs), dtype=np.int64, count=len(blobs))
    data = np.frombuffer(b"".join(blobs), dtype=np.uint8)
    ends = np.cumsum(lengths)
    last = data[ends[lengths > 0] - 1] if data.size else np.zeros(0, np.uint8)
    if np.any(last & 0x80):
        bad = int(np.flatnonzero(lengths > 0)[np.argmax((last & 0x80) != 0)])
        raise IntegrityError(f"served index: event {seqs[bad]}: its people's encoding is cut")
    stop = (data & 0x80) == 0  # the last byte of each varint
    starts = np.flatnonzero(np.concatenate(([True], stop[:-1]))) if data.size else stop.nonzero()[0]
    pos = np.arange(data.size) - np.repeat(starts, np.diff(np.append(starts, data.size)))
    if data.size and int(pos.max()) > 8:  # more than 63 bits
        bad = int(np.searchsorted(ends, int(np.argmax(pos > 8)), side="right"))
        raise IntegrityError(f"served index: event {seqs[bad]}: a person id out of range")
    parts = (data & 0x7F).astype(np.uint64) << (7 * pos).astype(np.uint64)
    gaps = np.add.reduceat(parts, starts).astype(np.int64) if data.size else np.zeros(0, np.int64)
    event_of = np.searchsorted(ends, starts, side="right")  # event of each varint
    counts = np.bincount(event_of, minlength=len(blobs)).astype(np.int64)
    total = np.cumsum(gaps)
    first = np.cumsum(counts) - counts  # index of each event's first id
    base = np.concatenate(([0], total))[first]
    return counts, total - np.repeat(base, counts)
