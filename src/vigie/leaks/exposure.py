"""Who was exposed, which fields, and when the data was taken — over the linked rows.

- Exposure: per affected person, the registry fields held about them in any of the rows
  linked to them — a value that is not a placeholder, in a column that is evidence or
  agreeing with their record (:mod:`vigie.leaks.evidence`); totals by category
  (nationality, residence reason and status, preferred language) from the person's
  current registry record, for the authority.
- Dating: a linked row's values match some versions of its person (the versions with
  the row's best score). The row was taken while one of them was valid:
  ``[earliest valid_from, latest valid_to)`` of those versions. The file was taken when
  every row was valid: from the latest start to the earliest end. If that is empty (the
  rows were taken over time), the window spans all rows and is marked not ``consistent``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import duckdb
import numpy as np

from vigie.leaks.affected import AffectedPeople
from vigie.leaks.columns import fields_of
from vigie.leaks.evidence import FieldVerdict

CATEGORIES = ("nationality", "residence_reason", "residence_status", "preferred_language")


def affected_people(
    con: duckdb.DuckDBPyConnection, verdicts: Mapping[str, FieldVerdict]
) -> AffectedPeople:
    """Every linked person with the fields exposed about them, ordered by ``ref``.

    Reads table ``row_fields`` (:func:`vigie.leaks.evidence.field_evidence`). A kind of
    column exposes a person when one of their rows holds a value that is not a
    placeholder and either the column is evidence or that value agrees with their
    record: an empty, placeholder or invented value exposed nothing of them. DuckDB folds
    each person's rows into a bit mask of the kinds that exposed them (the person's
    exposure *shape*); only the few distinct shapes are turned into field lists in Python.
    """
    exposing = [k for k, v in verdicts.items() if v.fields]
    mask = " | ".join(
        f"(CAST(bool_or(f.{k}_v{'' if verdicts[k].evidence else f' AND f.{k}_a'}) AS BIGINT)"
        f" << {bit})"
        for bit, k in enumerate(exposing)
    )
    got = con.execute(
        f"""WITH a AS (
                SELECT l.subject_id, any_value(l.is_canary) AS is_canary, count(*) AS n,
                       {mask or "CAST(0 AS BIGINT)"} AS shape
                FROM links l JOIN row_fields f USING (row_id) GROUP BY l.subject_id),
            g AS (SELECT subject_id, any_value(ref) AS ref FROM reg SEMI JOIN a USING (subject_id)
                  GROUP BY subject_id)
            SELECT a.subject_id, g.ref, a.is_canary, a.n, a.shape
            FROM a JOIN g USING (subject_id) ORDER BY g.ref, a.subject_id"""
    ).fetchnumpy()
    masks, shapes = np.unique(np.asarray(got["shape"], dtype=np.int64), return_inverse=True)
    shape_fields = [
        tuple(sorted({f for bit, k in enumerate(exposing) if (m >> bit) & 1 for f in fields_of(k)}))
        for m in masks.tolist()
    ]
    return AffectedPeople(
        subject_ids=got["subject_id"],
        refs=[str(ref) for ref in got["ref"].tolist()],
        canary=got["is_canary"],
        rows=got["n"],
        shapes=shapes.reshape(-1),
        shape_fields=shape_fields,
    )


def category_totals(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    """Affected real people counted by category (current registry values).

    One grouping-sets pass over the affected people's current records; a person has
    exactly one current record (``valid_to`` NULL), so rows count people.
    """
    keys = ", ".join(CATEGORIES)
    rows = con.execute(
        f"""SELECT {keys}, GROUPING({keys}) AS g, count(*) AS n
            FROM reg r SEMI JOIN links l ON l.subject_id = r.subject_id
            WHERE r.valid_to IS NULL AND NOT r.is_canary
            GROUP BY GROUPING SETS ({", ".join(f"({c})" for c in CATEGORIES)})"""
    ).fetchall()
    width = len(CATEGORIES)
    found: dict[str, list[tuple[str | None, int]]] = {cat: [] for cat in CATEGORIES}
    for *values, g, n in rows:
        # GROUPING() has a 0 bit (most significant first) for the one grouped column.
        i = next(i for i in range(width) if not (int(g) >> (width - 1 - i)) & 1)
        found[CATEGORIES[i]].append((values[i], int(n)))
    # Most people first, then by value, an absent value last (as SQL orders NULLs).
    return {
        cat: {str(v): n for v, n in sorted(pairs, key=lambda p: (-p[1], p[0] is None, p[0] or ""))}
        for cat, pairs in found.items()
    }


def leak_window(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The window in which the data was taken, from the versions of the values present."""
    # Per linked row (one person each), in one grouping pass: the earliest start among
    # the best-scored versions is the least (-score, valid_from); the latest end is the
    # greatest (score, open, valid_to), where an open (current) version ends it never.
    row = con.execute(
        """
        WITH per_row AS (
            SELECT min({'s': -s.score, 'v': s.valid_from}).v AS lo,
                   max({'s': s.score, 'open': s.valid_to IS NULL, 'v': s.valid_to}) AS top
            FROM scored s SEMI JOIN links l ON l.row_id = s.row_id AND l.subject_id = s.subject_id
            GROUP BY s.row_id, s.subject_id),
        dated AS (SELECT lo, CASE WHEN top.open THEN NULL ELSE top.v END AS hi FROM per_row)
        SELECT max(lo), min(hi), min(lo), CASE WHEN bool_or(hi IS NULL) THEN NULL ELSE max(hi) END,
               count(*), count(*) FILTER (WHERE hi IS NOT NULL)
        FROM dated
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
