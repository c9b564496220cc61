"""Why a leaked row was linked to a person: its score, field by field, as a waterfall.

A link's score is a sum of terms, one per field compared (:mod:`vigie.leaks.linking`):
an agreeing field adds its bits — ``log2(N / f)`` for a value ``f`` people share, a fixed
weight for an identifier — and a disagreeing one subtracts its penalty. Read as Splink's
waterfall chart reads a match weight: start from the prior, the log2-odds ``-log2 N``
that a person drawn at random from the ``N`` of the registry is the row's; add each
field's bits; the sum is the log2-odds of this person against a random one. The
confidence then shares those odds with the row's other candidates (``odds / (1 + sum
of all candidates' odds)``), which is why two namesakes born the same day both stay
below the threshold.

:func:`explain_links` reads, for every linked row, the terms of the version of its
person that scored best, into :class:`Explanations` (column-wise arrays, not one dict per
row: the memory bound holds with millions of linked rows); :func:`waterfall` turns one
explanation into the steps a DPO reads (``vigie leak explain``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

import duckdb
import numpy as np
import numpy.typing as npt

from vigie.leaks.affected import AffectedPeople
from vigie.leaks.linking import Weights, present_terms, term_select

EXPLAIN_BATCH = 100_000  # linked rows read from DuckDB at once


class Explanations(Sequence[dict[str, Any]]):
    """Why each real person's row was linked, held column-wise within the memory bound.

    Millions of linked rows would be millions of dicts and lists; here they are a few
    NumPy arrays: per row its file (index into ``files``), line, person (index into
    ``refs``, the affected people's, shared, not copied), score and confidence; the
    terms that counted (non-zero) in compressed-row form — row ``i``'s are
    ``term[start[i]:start[i + 1]]`` (indices into ``names``) with their ``bits``. Each
    item is built on demand as the report's JSON has it: ``{"file", "line", "ref",
    "score", "confidence", "terms": [(field, bits), ...]}``.
    """

    def __init__(
        self,
        *,
        files: Sequence[str],
        refs: Sequence[str],
        names: Sequence[str],
        file: npt.ArrayLike,
        line: npt.ArrayLike,
        person: npt.ArrayLike,
        score: npt.ArrayLike,
        confidence: npt.ArrayLike,
        start: npt.ArrayLike,
        term: npt.ArrayLike,
        bits: npt.ArrayLike,
    ) -> None:
        self._files, self._refs, self._names = list(files), refs, list(names)
        self._file = np.asarray(file, dtype=np.int32)
        self._line = np.asarray(line, dtype=np.int64)
        self._person = np.asarray(person, dtype=np.int32)
        self._score = np.asarray(score, dtype=np.float64)
        self._confidence = np.asarray(confidence, dtype=np.float64)
        self._start = np.asarray(start, dtype=np.int64)
        self._term = np.asarray(term, dtype=np.int16)
        self._bits = np.asarray(bits, dtype=np.float32)
        n = len(self._line)
        if (
            not (len(self._file) == len(self._person) == len(self._score) == n)
            or len(self._confidence) != n
            or len(self._start) != n + 1
            or len(self._term) != len(self._bits)
        ):
            raise ValueError("explanations: columns of different lengths")

    @classmethod
    def empty(cls) -> Explanations:
        return cls(files=[], refs=[], names=[], file=[], line=[], person=[], score=[],
                   confidence=[], start=[0], term=[], bits=[])  # fmt: skip

    @property
    def files(self) -> list[str]:
        """The names of the files the rows are in (an item's ``file`` is one of them)."""
        return list(self._files)

    @property
    def nbytes(self) -> int:
        """The arrays' size in bytes (the names and refs are shared)."""
        return sum(
            a.nbytes
            for a in (self._file, self._line, self._person, self._score, self._confidence,
                      self._start, self._term, self._bits)
        )  # fmt: skip

    def __len__(self) -> int:
        return len(self._line)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | Sequence[dict[str, Any]]:
        if isinstance(index, slice):
            return [self._item(i) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("explanation index out of range")
        return self._item(index)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for i in range(len(self)):
            yield self._item(i)

    def _item(self, i: int) -> dict[str, Any]:
        lo, hi = int(self._start[i]), int(self._start[i + 1])
        return {
            "file": self._files[int(self._file[i])],
            "line": int(self._line[i]),
            "ref": self._refs[int(self._person[i])],
            "score": round(float(self._score[i]), 3),
            "confidence": float(self._confidence[i]),
            "terms": [
                (self._names[t], round(float(b), 3))
                for t, b in zip(self._term[lo:hi].tolist(), self._bits[lo:hi].tolist(), strict=True)
            ],
        }


def explain_links(
    con: duckdb.DuckDBPyConnection,
    *,
    registry_size: int,
    files: Sequence[str],
    affected: AffectedPeople,
    term_frequency: bool = True,
) -> Explanations:
    """Why each real person's row of table ``links`` was linked: the terms of the version
    of its person that scored best, in file and line order.

    ``term_frequency`` must be what :func:`vigie.leaks.linking.link` was given. The terms
    are computed by DuckDB into a table (spilled if need be) and read
    :data:`EXPLAIN_BATCH` rows at a time; only their non-zero bits are kept.
    """
    weights = Weights.of(con, registry_size=registry_size, term_frequency=term_frequency)
    terms = present_terms(con, weights)
    con.execute(
        """CREATE OR REPLACE TABLE link_versions AS
           SELECT l.row_id, l.subject_id, arg_max(s.version, s.score) AS version
           FROM links l JOIN scored s USING (row_id, subject_id)
           WHERE NOT l.is_canary GROUP BY ALL"""
    )
    width = max(len(terms), 1)
    columns = ", ".join(f"x.t{i}" for i in range(width))
    con.execute(
        f"""CREATE OR REPLACE TABLE explained AS
            SELECT row_number() OVER (ORDER BY d.src, d.line) - 1 AS k, d.src, d.line,
                   l.subject_id, l.score, l.confidence, {columns}
            FROM ({term_select("link_versions", terms, versioned=True)}) x
            JOIN links l USING (row_id) JOIN dump d USING (row_id)"""
    )
    nonzero = " + ".join(f"CAST(t{i} <> 0 AS BIGINT)" for i in range(width)) if terms else "0"
    got = con.execute(f"SELECT count(*), coalesce(sum({nonzero}), 0) FROM explained").fetchall()
    n, nnz = (int(got[0][0]), int(got[0][1])) if got else (0, 0)
    ids = affected.subject_ids
    order = np.argsort(ids, kind="stable")
    file, line, person = np.empty(n, np.int32), np.empty(n, np.int64), np.empty(n, np.int32)
    score, confidence = np.empty(n, np.float64), np.empty(n, np.float64)
    # Every array at its final size from the start: no pieces concatenated at the end.
    start = np.zeros(n + 1, np.int64)
    term, bits = np.empty(nnz, np.int16), np.empty(nnz, np.float32)
    for lo in range(0, n, EXPLAIN_BATCH):
        hi = min(lo + EXPLAIN_BATCH, n)
        b = con.execute(
            f"SELECT * EXCLUDE (k) FROM explained WHERE k >= {lo} AND k < {hi} ORDER BY k"
        ).fetchnumpy()
        file[lo:hi], line[lo:hi] = b["src"], b["line"]
        score[lo:hi], confidence[lo:hi] = b["score"], b["confidence"]
        sid = np.asarray(b["subject_id"], dtype=np.int64)
        at = order[np.searchsorted(ids, sid, sorter=order)]
        if not np.array_equal(ids[at], sid):
            raise RuntimeError("a linked person is missing from the affected people")
        person[lo:hi] = at
        matrix = np.column_stack(
            [np.asarray(b[f"t{i}"], dtype=np.float64) for i in range(width)]
        ) if terms else np.zeros((hi - lo, 0), np.float64)  # fmt: skip
        rows, cols = np.nonzero(matrix)  # what SQL counted as non-zero, row by row
        first = int(start[lo])
        term[first : first + len(rows)] = cols
        bits[first : first + len(rows)] = matrix[rows, cols]
        start[lo + 1 : hi + 1] = first + np.cumsum(np.bincount(rows, minlength=hi - lo))
    con.execute("DROP TABLE explained")
    return Explanations(
        files=files,
        refs=affected.refs,
        names=[t.name for t in terms],
        file=file,
        line=line,
        person=person,
        score=score,
        confidence=confidence,
        start=start,
        term=term,
        bits=bits,
    )


@dataclass(frozen=True)
class Step:
    """One bar of the waterfall: what it is, its bits, the log2-odds after it."""

    label: str
    bits: float
    log2_odds: float

    @property
    def probability(self) -> float:
        """Match probability against a person drawn at random, after this step."""
        if self.log2_odds > 60:
            return 1.0
        odds: float = 2.0**self.log2_odds
        return odds / (1.0 + odds)


def waterfall(explanation: dict[str, Any], *, registry_size: int) -> list[Step]:
    """The prior, then one step per field (agreeing: positive bits; disagreeing:
    negative), from an entry of a report's ``explanations``."""
    prior = -math.log2(max(registry_size, 2))
    steps = [Step(f"prior: 1 person in {registry_size}", prior, prior)]
    total = prior
    for field, bits in explanation["terms"]:
        total += float(bits)
        outcome = "agrees" if bits > 0 else "disagrees"
        steps.append(Step(f"{field} {outcome}", float(bits), total))
    return steps


def find(explanations: list[dict[str, Any]], row: str) -> dict[str, Any]:
    """The explanation of ``row``: ``LINE`` or ``FILE:LINE``; ``LookupError`` if none."""
    file, _, line = row.rpartition(":")
    try:
        number = int(line)
    except ValueError:
        raise LookupError(f"{row!r} is not a row: give LINE or FILE:LINE") from None
    found = [e for e in explanations if e["line"] == number and (not file or e["file"] == file)]
    if not found:
        raise LookupError(f"row {row} was not linked (or the report was made without --explain)")
    if len(found) > 1:
        files = ", ".join(sorted(e["file"] for e in found))
        raise LookupError(f"line {number} was linked in several files ({files}): give FILE:LINE")
    return found[0]
