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

from vigie.audit.seals import REGISTRY, scan, scan_along, state_digest
from vigie.leaks.kinds import name_tokens
from vigie.leaks.workspace import Meter
from vigie.registry.models import VERSIONED_FIELDS

_DATA_COLUMNS = VERSIONED_FIELDS  # every personal field but the stable ref
_DATES = {"birth_date", "entry_date", "cir_signed_on"}
BATCH = 200_000
_TYPES = {"subject_id": "BIGINT", "version": "BIGINT", "is_canary": "BOOLEAN"}


def _values(dialect: str, person: str, version: str) -> list[str]:
    """The copied columns of a version (table alias ``version``) of a person (``person``):
    the current one when both aliases are the same."""

    def col(name: str) -> str:
        if name in _DATES or name == "course_hours":
            return f"CAST({version}.{name} AS VARCHAR(10))"
        return f"{version}.{name}"

    def ts(name: str) -> str:
        if dialect == "postgresql":
            return f"to_char({version}.{name} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')"
        return f"substr({version}.{name}, 1, 19)"

    valid_to = "NULL" if person == version else ts("valid_to")
    return [
        f"{person}.id",
        f"{version}.version",
        ts("valid_from"),
        valid_to,
        f"CASE WHEN {person}.is_canary THEN 1 ELSE 0 END",
        f"{person}.ref",
        *(col(c) for c in _DATA_COLUMNS),
    ]


def _select(dialect: str) -> str:
    return (
        f"SELECT {', '.join(_values(dialect, 's', 's'))} FROM subjects s "
        f"UNION ALL SELECT {', '.join(_values(dialect, 's', 'v'))} "
        "FROM subject_versions v JOIN subjects s ON s.id = v.subject_id"
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


def _line(values: list[str], *, clean: bool) -> str:
    """SQLite: the ``\x1f``-separated line of ``values`` (SQL expressions)."""
    value = "coalesce(CAST({v} AS TEXT), '')"
    if clean:
        value = (
            "coalesce(replace(replace(replace(CAST({v} AS TEXT), char(31), ' '), "
            "char(10), ' '), char(13), ' '), '')"
        )
    return " || char(31) || ".join(value.format(v=v) for v in values)


def _breaks(text: str, lines: int, width: int) -> bool:
    """Whether a value broke the line format of ``lines`` lines joined by newlines."""
    return (
        text.count("\n") != lines - 1 or text.count("\x1f") != (width - 1) * lines or "\r" in text
    )


def _copy_sealed_sqlite(
    conn: Connection, width: int, target: Path, copied: Copied
) -> dict[str, bytes] | None:
    """The copy of :func:`_copy_sqlite` and the digest of every bucket of the registry's
    seal (:func:`vigie.audit.seals.scan`) in one read of the rows: each row's line is
    selected beside its canonical line (:func:`vigie.audit.seals.scan_along`), current
    versions then superseded ones, in the seal's order. None (``target`` removed) when
    a value breaks the line format or JSON cannot hold it: the caller reads twice."""
    current = _line(_values("sqlite", "t", "t"), clean=False)
    superseded = _line(_values("sqlite", "s", "t"), clean=False)
    extra = [
        ("", current),
        # A version without its person (only behind Vigie's back) is hashed, not copied,
        # as the copy's inner join leaves it out.
        (
            "LEFT JOIN subjects s ON s.id = t.subject_id",
            f"CASE WHEN s.id IS NULL THEN NULL ELSE {superseded} END",
        ),
    ]
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:

        def take(_part: int, values: list[Any]) -> bool:
            lines = [v for v in values if v is not None]
            if not lines:
                return True
            text = "\n".join(lines)
            if _breaks(text, len(lines), width):
                return False
            out.write(text)
            out.write("\n")
            copied.rows += len(lines)
            return True

        dbapi = conn.connection.dbapi_connection
        found = scan_along(dbapi, REGISTRY, extra, take)
    if found is None:
        target.unlink()
        copied.rows = 0
        return None
    return found[0]


def _stream_sqlite(
    conn: Connection, sql: str, width: int, target: Path, copied: Copied, *, clean: bool
) -> bool:
    """Write the lines to ``target``; False (stopped) when a value breaks the line format."""
    line = _line([f"c{i}" for i in range(width)], clean=clean)
    wrapped = f"WITH q({', '.join(f'c{i}' for i in range(width))}) AS ({sql}) SELECT {line} FROM q"
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(wrapped)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            while batch := cursor.fetchmany(BATCH):
                text = "\n".join(r[0] for r in batch)
                if not clean and _breaks(text, len(batch), width):
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
    *,
    sealed: bool,
) -> dict[str, bytes] | None:
    """Table ``reg_raw``; with ``sealed``, on SQLite, the registry seal's digest of every
    bucket, hashed in the same read (None: not hashed)."""
    sql = _select(conn.dialect.name)
    digests = None
    target = work / "registry.txt"
    columns = "{" + ", ".join(f"'{n}': '{_TYPES.get(n, 'VARCHAR')}'" for n in names) + "}"
    expected = conn.exec_driver_sql(
        "SELECT (SELECT count(*) FROM subjects) + (SELECT count(*) FROM subject_versions)"
    ).scalar_one()
    copied = Copied()
    with meter.phase("reading the registry", lambda: copied.rows / max(int(expected), 1)):
        if conn.dialect.name == "sqlite" and sealed:
            digests = _copy_sealed_sqlite(conn, len(names), target, copied)
        if conn.dialect.name == "sqlite" and digests is None:
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
        return None
    try:
        with meter.phase("loading the registry copy"):
            con.execute(
                f"CREATE OR REPLACE TABLE reg_raw AS SELECT * FROM read_csv(?, header=false, "
                f"auto_detect=false, columns={columns}, {options}, nullstr='', parallel=true)",
                [str(target)],
            )
    finally:
        target.unlink(missing_ok=True)
    return digests


def load_registry(
    con: duckdb.DuckDBPyConnection, conn: Connection, work: Path, *, meter: Meter | None = None
) -> int:
    """Build DuckDB table ``reg`` from the database; return the number of people.

    The rows stream through a file in ``work`` (a private directory), deleted at once.
    """
    return _load(con, conn, work, meter or Meter(lambda _message: None), sealed=False)[0]


def load_sealed_registry(
    con: duckdb.DuckDBPyConnection, conn: Connection, work: Path, *, meter: Meter | None = None
) -> tuple[int, bytes]:
    """:func:`load_registry`, and the state of the registry's rows as the seals digest
    them (:func:`vigie.audit.seals.state_digest` of :func:`vigie.audit.seals.scan`), in
    ``conn``'s transaction: on SQLite hashed in the same read as the copy, elsewhere (or
    if a value needs the slower paths) in a second read."""
    meter = meter or Meter(lambda _message: None)
    people, digests = _load(con, conn, work, meter, sealed=True)
    if digests is None:
        with meter.phase("checking the registry against its seals"):
            digests, _rows = scan(conn.connection.dbapi_connection, conn.dialect.name, REGISTRY)
    return people, state_digest(REGISTRY, digests)


def _load(
    con: duckdb.DuckDBPyConnection, conn: Connection, work: Path, meter: Meter, *, sealed: bool
) -> tuple[int, dict[str, bytes] | None]:
    names = ("subject_id", "version", "valid_from", "valid_to", "is_canary", "ref", *_DATA_COLUMNS)
    digests = _load_raw(con, conn, names, work, meter, sealed=sealed)
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
    return (int(row[0]) if row else 0), digests


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
