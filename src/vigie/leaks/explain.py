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
person that scored best; :func:`waterfall` turns one explanation into the steps a DPO
reads (``vigie leak explain``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np

from vigie.leaks.linking import present_terms, term_select


def explain_links(
    con: duckdb.DuckDBPyConnection, *, registry_size: int
) -> dict[int, list[tuple[str, float]]]:
    """Row id -> ``(field, bits)`` of every term that counted (non-zero) in its link."""
    log_n = float(np.log2(max(registry_size, 2)))
    terms = present_terms(con, log_n)
    con.execute(
        """CREATE OR REPLACE TABLE link_versions AS
           SELECT l.row_id, l.subject_id, arg_max(s.version, s.score) AS version
           FROM links l JOIN scored s USING (row_id, subject_id) GROUP BY ALL"""
    )
    columns = ", ".join(f"t{i}" for i in range(max(len(terms), 1)))
    rows = con.execute(
        f"SELECT row_id, {columns} FROM ({term_select('link_versions', terms, versioned=True)})"
    ).fetchall()
    names = [t.name for t in terms]
    return {
        int(row[0]): [(names[i], round(float(b), 3)) for i, b in enumerate(row[1:]) if b]
        for row in rows
    }


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
