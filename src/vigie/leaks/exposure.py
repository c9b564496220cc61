"""Who was exposed, which fields, and when the data was taken — over the linked rows.

- Exposure: per affected person, the registry fields present (non-empty) in any of the
  rows linked to them; totals by category (nationality, residence reason and status,
  preferred language) from the person's current registry record, for the authority.
- Dating: a linked row's values match some versions of its person (the versions with
  the row's best score). The row was taken while one of them was valid:
  ``[earliest valid_from, latest valid_to)`` of those versions. The file was taken when
  every row was valid: from the latest start to the earliest end. If that is empty (the
  rows were taken over time), the window spans all rows and is marked not ``consistent``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

import duckdb

from vigie.leaks.columns import Column, fields_of
from vigie.leaks.normalize import LINK_KINDS

CATEGORIES = ("nationality", "residence_reason", "residence_status", "preferred_language")


@dataclass(frozen=True)
class Affected:
    """One affected person."""

    subject_id: int
    ref: str
    is_canary: bool
    fields: tuple[str, ...]
    rows: int


def affected_people(
    con: duckdb.DuckDBPyConnection, columns: list[Column], present: list[str]
) -> list[Affected]:
    """Every linked person with the fields exposed about them."""
    exposing = [k for k in present if k in LINK_KINDS and fields_of(k)]
    flags = "".join(f", bool_or(r.{k} IS NOT NULL)" for k in exposing)
    rows = con.execute(
        f"""SELECT l.subject_id, any_value(g.ref), any_value(l.is_canary), count(*){flags}
            FROM links l JOIN dump_raw r USING (row_id)
            JOIN (SELECT subject_id, any_value(ref) AS ref FROM reg GROUP BY subject_id) g
              USING (subject_id)
            GROUP BY l.subject_id ORDER BY any_value(g.ref)"""
    ).fetchall()
    extra = {f for c in columns if c.kind not in LINK_KINDS for f in fields_of(c.kind)}
    shapes: dict[tuple[bool, ...], tuple[str, ...]] = {}
    out = []
    for s, ref, canary, n, *bits in rows:
        key = tuple(bits)
        fields = shapes.get(key)
        if fields is None:
            chosen = {f for k, bit in zip(exposing, key, strict=True) if bit for f in fields_of(k)}
            fields = shapes[key] = tuple(sorted(chosen | extra))
        out.append(Affected(int(s), str(ref), bool(canary), fields, int(n)))
    return out


def category_totals(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    """Affected real people counted by category (current registry values)."""
    out: dict[str, dict[str, int]] = {}
    for cat in CATEGORIES:
        rows = con.execute(
            f"""SELECT r.{cat}, count(DISTINCT r.subject_id) FROM reg r
                WHERE r.valid_to IS NULL AND NOT r.is_canary
                  AND r.subject_id IN (SELECT subject_id FROM links)
                GROUP BY 1 ORDER BY 2 DESC, 1"""
        ).fetchall()
        out[cat] = dict(Counter({str(k): int(v) for k, v in rows}))
    return out


def leak_window(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The window in which the data was taken, from the versions of the values present."""
    row = con.execute(
        """
        WITH best AS (
            SELECT s.row_id, s.subject_id, s.valid_from, s.valid_to, s.score,
                   max(s.score) OVER (PARTITION BY s.row_id, s.subject_id) AS top
            FROM scored s JOIN links l ON l.row_id = s.row_id AND l.subject_id = s.subject_id),
        per_row AS (
            SELECT row_id, min(valid_from) AS lo,
                   CASE WHEN bool_or(valid_to IS NULL) THEN NULL ELSE max(valid_to) END AS hi
            FROM best WHERE score = top GROUP BY row_id)
        SELECT max(lo), min(hi), min(lo), CASE WHEN bool_or(hi IS NULL) THEN NULL ELSE max(hi) END,
               count(*), count(*) FILTER (WHERE hi IS NOT NULL)
        FROM per_row
        """
    ).fetchall()[0]
    if row is None or not row[4]:
        return None
    latest_start, earliest_end, first_start, last_end, rows, superseded = row
    consistent = earliest_end is None or latest_start <= earliest_end

    def iso(value: dt.datetime | None) -> str | None:
        return value.replace(tzinfo=dt.UTC).isoformat() if value is not None else None

    if consistent:
        start, end = iso(latest_start), iso(earliest_end)
    else:
        start, end = iso(first_start), iso(last_end)
    return {
        "earliest": start,
        "latest": end,
        "from": start,  # the names vigie.breach.from_leak reads
        "to": end,
        "consistent": bool(consistent),
        "rows_dated": int(rows),
        "rows_with_superseded_values": int(superseded),
    }
