"""The registry as leak triage sees it: every version of every person, in DuckDB.

:func:`load_registry` reads ``subjects`` (current versions) and ``subject_versions``
(superseded ones) in bulk through the SQLAlchemy connection and builds DuckDB table
``reg``, one row per (person, version), with the keys linking uses already normalised:

- ``email_n`` lower-cased, ``phone`` already E.164 in the registry;
- ``name_key`` the sorted, transliterated tokens of given and family name (so swapped
  names, missing accents and case do not matter); ``native_key`` the same for the names
  in their native script; ``family_key`` the family name alone;
- ``valid_from``/``valid_to`` the version's validity (``valid_to`` NULL when current).

Name tokens are computed in Python once per *distinct* name, then joined back in DuckDB.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
from sqlalchemy import Connection

from vigie.leaks.kinds import name_tokens
from vigie.leaks.workspace import Meter
from vigie.registry.models import VERSIONED_FIELDS

_DATA_COLUMNS = VERSIONED_FIELDS  # every personal field but the stable ref
_DATES = {"birth_date", "entry_date", "cir_signed_on"}
BATCH = 200_000
_TYPES = {"subject_id": "BIGINT", "version": "BIGINT", "is_canary": "BOOLEAN"}


def _select(dialect: str) -> str:
    def col(alias: str, name: str) -> str:
        if name in _DATES or name == "course_hours":
            return f"CAST({alias}.{name} AS VARCHAR(10))"
        return f"{alias}.{name}"

    def ts(alias: str, name: str) -> str:
        if dialect == "postgresql":
            return f"to_char({alias}.{name} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')"
        return f"substr({alias}.{name}, 1, 19)"

    canary = "CASE WHEN s.is_canary THEN 1 ELSE 0 END"
    current = ", ".join(col("s", c) for c in _DATA_COLUMNS)
    old = ", ".join(col("v", c) for c in _DATA_COLUMNS)
    return (
        f"SELECT s.id, s.version, {ts('s', 'valid_from')}, NULL, {canary}, s.ref, {current} "
        "FROM subjects s "
        f"UNION ALL SELECT s.id, v.version, {ts('v', 'valid_from')}, {ts('v', 'valid_to')}, "
        f"{canary}, s.ref, {old} FROM subject_versions v JOIN subjects s ON s.id = v.subject_id"
    )


def _ingest(
    con: duckdb.DuckDBPyConnection, table: str, names: Sequence[str], rows: list[Any]
) -> None:
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    data = {name: np.array(col, dtype=object) for name, col in zip(names, columns, strict=True)}
    con.register("_batch", data)
    con.execute(f"INSERT INTO {table} SELECT * FROM _batch")
    con.unregister("_batch")


def _token_map(con: duckdb.DuckDBPyConnection, table: str, source: str) -> None:
    """Table ``table(raw, toks)``: each distinct name of query ``source`` and its folded
    tokens, computed in batches of :data:`BATCH` names (never all of them at once)."""
    con.execute(f"CREATE OR REPLACE TABLE {table} (raw VARCHAR, toks VARCHAR)")
    cursor = con.cursor()  # its own result, read while the main connection inserts
    try:
        cursor.execute(source)
        while batch := cursor.fetchmany(BATCH):
            raw = [r[0] for r in batch if r[0]]
            toks = [" ".join(name_tokens(v)) for v in raw]
            if raw:
                _ingest(con, table, ("raw", "toks"), list(zip(raw, toks, strict=True)))
    finally:
        cursor.close()


class Copied:
    """Rows copied out of the database so far, for the progress of the copy."""

    def __init__(self) -> None:
        self.rows = 0


def _copy_sqlite(conn: Connection, sql: str, width: int, target: Path, copied: Copied) -> None:
    """Stream the rows as ``\x1f``-separated lines: one Python string per row, not per value.

    Registry values hold no separator, carriage return or newline, so the lines are built
    from the values as they are, each batch checked with two counts. If a value ever does
    hold one, the copy starts again with those characters replaced by spaces in every
    value (twice as slow: 22 s instead of 10 s for 2.6 million versions).
    """
    if not _stream_sqlite(conn, sql, width, target, copied, clean=False):
        target.unlink()
        copied.rows = 0
        _stream_sqlite(conn, sql, width, target, copied, clean=True)


def _stream_sqlite(
    conn: Connection, sql: str, width: int, target: Path, copied: Copied, *, clean: bool
) -> bool:
    """Write the lines to ``target``; False (stopped) when a value breaks the line format."""
    value = "coalesce(CAST(c{i} AS TEXT), '')"
    if clean:
        value = (
            "coalesce(replace(replace(replace(CAST(c{i} AS TEXT), char(31), ' '), "
            "char(10), ' '), char(13), ' '), '')"
        )
    line = " || char(31) || ".join(value.format(i=i) for i in range(width))
    wrapped = f"WITH q({', '.join(f'c{i}' for i in range(width))}) AS ({sql}) SELECT {line} FROM q"
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(wrapped)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            while batch := cursor.fetchmany(BATCH):
                text = "\n".join(r[0] for r in batch)
                if not clean and (
                    text.count("\n") != len(batch) - 1
                    or text.count("\x1f") != (width - 1) * len(batch)
                    or "\r" in text
                ):
                    return False
                out.write(text)
                out.write("\n")
                copied.rows += len(batch)
    finally:
        cursor.close()
    return True


def _copy_postgresql(conn: Connection, sql: str, target: Path, copied: Copied) -> None:
    """Stream the rows with ``COPY … TO STDOUT`` as CSV."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with (
            os.fdopen(fd, "wb") as out,
            cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)") as copy,
        ):
            for data in copy:
                out.write(data)
                copied.rows += bytes(data).count(b"\n")
    finally:
        cursor.close()


def _load_raw(
    con: duckdb.DuckDBPyConnection,
    conn: Connection,
    names: Sequence[str],
    work: Path,
    meter: Meter,
) -> None:
    sql = _select(conn.dialect.name)
    target = work / "registry.txt"
    columns = "{" + ", ".join(f"'{n}': '{_TYPES.get(n, 'VARCHAR')}'" for n in names) + "}"
    expected = conn.exec_driver_sql(
        "SELECT (SELECT count(*) FROM subjects) + (SELECT count(*) FROM subject_versions)"
    ).scalar_one()
    copied = Copied()
    with meter.phase("reading the registry", lambda: copied.rows / max(int(expected), 1)):
        if conn.dialect.name == "sqlite":
            _copy_sqlite(conn, sql, len(names), target, copied)
        elif conn.dialect.name == "postgresql":
            _copy_postgresql(conn, sql, target, copied)
    if conn.dialect.name == "sqlite":
        options = "delim='\x1f', quote='', escape=''"
    elif conn.dialect.name == "postgresql":
        options = "delim=',', quote='\"', escape='\"'"
    else:  # any other database: row by row through the driver
        con.execute(
            "CREATE OR REPLACE TABLE reg_raw ("
            + ", ".join(f"{n} {_TYPES.get(n, 'VARCHAR')}" for n in names)
            + ")"
        )
        result = conn.exec_driver_sql(sql)
        while batch := result.fetchmany(BATCH):
            _ingest(con, "reg_raw", names, [tuple(r) for r in batch])
        return
    try:
        with meter.phase("loading the registry copy"):
            con.execute(
                f"CREATE OR REPLACE TABLE reg_raw AS SELECT * FROM read_csv(?, header=false, "
                f"auto_detect=false, columns={columns}, {options}, nullstr='', parallel=true)",
                [str(target)],
            )
    finally:
        target.unlink(missing_ok=True)


def load_registry(
    con: duckdb.DuckDBPyConnection, conn: Connection, work: Path, *, meter: Meter | None = None
) -> int:
    """Build DuckDB table ``reg`` from the database; return the number of people.

    The rows stream through a file in ``work`` (a private directory), deleted at once.
    """
    meter = meter or Meter(lambda _message: None)
    names = ("subject_id", "version", "valid_from", "valid_to", "is_canary", "ref", *_DATA_COLUMNS)
    _load_raw(con, conn, names, work, meter)
    with meter.phase("folding the registry's names"):
        _token_map(
            con,
            "reg_tok",
            "SELECT DISTINCT v FROM (SELECT unnest([given_name, family_name, given_name_native, "
            "family_name_native]) AS v FROM reg_raw) WHERE v IS NOT NULL",
        )
    with meter.phase("building the registry tables"):
        _build(con)
    row = con.execute("SELECT count(DISTINCT subject_id) FROM reg").fetchall()[0]
    return int(row[0]) if row else 0


def _build(con: duckdb.DuckDBPyConnection) -> None:
    """Tables ``reg`` (keys normalised, value frequencies) and ``reg_freq`` from ``reg_raw``."""
    con.execute(
        """
        CREATE OR REPLACE TABLE reg AS
        SELECT r.subject_id, r.version, CAST(r.valid_from AS TIMESTAMP) AS valid_from,
               CAST(r.valid_to AS TIMESTAMP) AS valid_to, r.is_canary, r.ref,
               upper(trim(r.ref)) AS ref_n,
               lower(trim(r.email)) AS email_n, r.phone AS phone_n,
               array_to_string(list_sort(list_concat(string_split(coalesce(g.toks, ''), ' '),
                   string_split(coalesce(f.toks, ''), ' ')).list_filter(lambda x: x <> '')), ' ')
                       AS name_key,
               nullif(array_to_string(list_sort(list_concat(string_split(coalesce(gn.toks, ''),
                   ' '),
                   string_split(coalesce(fn.toks, ''), ' ')).list_filter(lambda x: x <> '')),
                       ' '), '') AS native_key,
               f.toks AS family_key, g.toks AS given_key,
               TRY_CAST(r.birth_date AS DATE) AS birth_date, r.sex, r.birth_country, r.nationality,
               r.preferred_language, r.address_line,
               trim(lower(regexp_replace(strip_accents(r.address_line), '[^A-Za-z0-9]+', ' ',
                   'g'))) AS address_n,
               r.postal_code, r.city,
               trim(lower(regexp_replace(strip_accents(r.city), '[^A-Za-z0-9]+', ' ', 'g'))) AS
                   city_n,
               r.region, TRY_CAST(r.entry_date AS DATE) AS entry_date, r.residence_reason,
               r.residence_status, TRY_CAST(r.cir_signed_on AS DATE) AS cir_signed_on,
               r.course_hours, r.course_level
        FROM reg_raw r
        LEFT JOIN reg_tok g ON g.raw = r.given_name
        LEFT JOIN reg_tok f ON f.raw = r.family_name
        LEFT JOIN reg_tok gn ON gn.raw = r.given_name_native
        LEFT JOIN reg_tok fn ON fn.raw = r.family_name_native
        """
    )
    con.execute("DROP TABLE reg_raw")
    # How common each value is, for value-specific linking weights.
    con.execute(
        """
        CREATE OR REPLACE TABLE reg_freq AS
        SELECT 'name' AS kind, name_key AS value, count(DISTINCT subject_id) AS n FROM reg GROUP
            BY ALL
        UNION ALL SELECT 'native', native_key, count(DISTINCT subject_id) FROM reg
            WHERE native_key IS NOT NULL GROUP BY ALL
        UNION ALL SELECT 'family', family_key, count(DISTINCT subject_id) FROM reg GROUP BY ALL
        UNION ALL SELECT 'birth', CAST(birth_date AS VARCHAR), count(DISTINCT subject_id) FROM reg
            GROUP BY ALL
        UNION ALL SELECT 'postal', postal_code, count(DISTINCT subject_id) FROM reg GROUP BY ALL
        UNION ALL SELECT 'name_birth', name_key || '|' || CAST(birth_date AS VARCHAR),
            count(DISTINCT subject_id) FROM reg GROUP BY ALL
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TABLE reg AS
        SELECT reg.*, coalesce(a.n, 1) AS name_freq, coalesce(b.n, 1) AS family_freq,
               coalesce(c.n, 1) AS birth_freq, coalesce(d.n, 1) AS postal_freq,
               coalesce(e.n, 1) AS name_birth_freq
        FROM reg
        LEFT JOIN reg_freq a ON a.kind = 'name' AND a.value = reg.name_key
        LEFT JOIN reg_freq b ON b.kind = 'family' AND b.value = reg.family_key
        LEFT JOIN reg_freq c ON c.kind = 'birth' AND c.value = CAST(reg.birth_date AS VARCHAR)
        LEFT JOIN reg_freq d ON d.kind = 'postal' AND d.value = reg.postal_code
        LEFT JOIN reg_freq e ON e.kind = 'name_birth'
            AND e.value = reg.name_key || '|' || CAST(reg.birth_date AS VARCHAR)
        """
    )
