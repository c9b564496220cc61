"""Normalisation of the leaked rows into DuckDB table ``dump``, vectorised.

All sources are stacked into one table with one column per kind present (the first
column of that kind in each source), then normalised the way the registry is:

- e-mail lower-cased; phone to E.164 by a SQL fast path (French national and
  international forms, separators, ``(0)``) with ``phonenumbers`` (default region FR)
  for the distinct leftovers only;
- dates parsed by SQL ``try_strptime`` over the common formats, day-first unless the
  column shows otherwise, with :func:`vigie.leaks.kinds.parse_date` for distinct leftovers;
- names to sorted transliterated tokens, computed once per distinct name;
- nationality and birth country to ISO alpha-3, once per distinct value;
- postal codes padded back to five digits (spreadsheets drop the leading zero).
"""

from __future__ import annotations

from collections import defaultdict

import duckdb
import numpy as np

from vigie.leaks import kinds as K
from vigie.leaks.columns import Column
from vigie.leaks.countries import country_code
from vigie.leaks.sources import Source

# Kinds carried into the dump table: every registry field (and pseudonyms). Some are
# linked on; all are judged (:mod:`vigie.leaks.evidence`) and exposed per person.
LINK_KINDS = (
    "ref",
    "email",
    "phone",
    "given_name",
    "family_name",
    K.FULL_NAME,
    "given_name_native",
    "family_name_native",
    "birth_date",
    "sex",
    "birth_country",
    "nationality",
    "preferred_language",
    "address_line",
    "postal_code",
    "city",
    "region",
    "entry_date",
    "residence_reason",
    "residence_status",
    "cir_signed_on",
    "course_level",
    "course_hours",
    K.PSEUDONYM,
)
_DATE_FORMATS_DAY = (
    "%d/%m/%Y",
    "%Y-%m-%d",
    "%d-%m-%Y",
    "%d.%m.%Y",
    "%Y%m%d",
    "%Y/%m/%d",
    "%d/%m/%y",
    "%d %m %Y",
)
_DATE_FORMATS_MONTH = (
    "%m/%d/%Y",
    "%Y-%m-%d",
    "%m-%d-%Y",
    "%m.%d.%Y",
    "%Y%m%d",
    "%Y/%m/%d",
    "%m/%d/%y",
)


def _map_distinct(
    con: duckdb.DuckDBPyConnection, column: str, func: object, where: str = "TRUE"
) -> str:
    """Apply ``func`` to each distinct value of ``column`` of ``dump_src`` (under
    ``where``); return the name of the map table ``(raw, val)``."""
    assert callable(func)
    name = f"map_{column}"
    values = [
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT {column} FROM dump_src WHERE {column} IS NOT NULL AND ({where})"
        ).fetchall()
    ]
    out = [func(v) for v in values]
    con.register(
        "_map", {"raw": np.array(values, dtype=object), "val": np.array(out, dtype=object)}
    )
    con.execute(
        f"CREATE OR REPLACE TABLE {name} AS SELECT raw, CAST(val AS VARCHAR) AS val FROM _map"
    )
    con.unregister("_map")
    return name


def _day_first(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    """Day first unless some value has a second part above 12 and none a first part."""
    row = con.execute(
        f"""SELECT count(*) FILTER (WHERE TRY_CAST(s.b AS INT) > 12),
                   count(*) FILTER (WHERE TRY_CAST(s.a AS INT) > 12)
            FROM (SELECT regexp_extract({column}, '^(\\d{{1,2}})[/.-](\\d{{1,2}})[/.-]\\d{{2,4}}$',
                                        ['a', 'b']) AS s
                  FROM {table} WHERE {column} IS NOT NULL)"""
    ).fetchall()[0]
    second_big, first_big = (int(row[0]), int(row[1])) if row else (0, 0)
    return not (second_big > 0 and first_big == 0)


def _date_map(con: duckdb.DuckDBPyConnection, column: str) -> str:
    """Map table ``(raw, val)`` of each distinct written date of ``column`` to a date:
    SQL ``try_strptime`` first, :func:`vigie.leaks.kinds.parse_date` for the leftovers."""
    name = f"map_{column}"
    con.execute(
        f"""CREATE OR REPLACE TABLE {name} AS
            SELECT DISTINCT {column} AS raw, CAST(NULL AS DATE) AS val
            FROM dump_src WHERE {column} IS NOT NULL"""
    )
    # Only whether any value shows a day or a month above 12 matters: distinct values do.
    day_first = _day_first(con, name, "raw")
    formats = _DATE_FORMATS_DAY if day_first else _DATE_FORMATS_MONTH
    fmt_list = "[" + ", ".join(f"'{f}'" for f in formats) + "]"
    con.execute(f"UPDATE {name} SET val = CAST(try_strptime(trim(raw), {fmt_list}) AS DATE)")
    leftovers = [r[0] for r in con.execute(f"SELECT raw FROM {name} WHERE val IS NULL").fetchall()]
    parsed = [K.parse_date(v, day_first=day_first) for v in leftovers]
    found = [(v, d.isoformat()) for v, d in zip(leftovers, parsed, strict=True) if d]
    if found:
        con.register(
            "_dates",
            {
                "raw": np.array([v for v, _ in found], dtype=object),
                "val": np.array([d for _, d in found], dtype=object),
            },
        )
        con.execute(
            f"UPDATE {name} SET val = CAST(_dates.val AS DATE) FROM _dates "
            f"WHERE {name}.raw = _dates.raw"
        )
        con.unregister("_dates")
    return name


# Phones to E.164 in SQL for the usual French and international forms, over the digits
# and plus signs of the written number (``{d}``); NULL leaves the number to phonenumbers.
_PHONE_FAST = r"""CASE
    WHEN {d} LIKE '+330%' AND length({d}) = 13 THEN '+33' || substr({d}, 5)
    WHEN {d} LIKE '+%' AND length({d}) BETWEEN 9 AND 16 THEN {d}
    WHEN {d} LIKE '00%' AND length({d}) BETWEEN 10 AND 17 THEN '+' || substr({d}, 3)
    WHEN length({d}) = 10 AND {d} LIKE '0%' THEN '+33' || substr({d}, 2)
    WHEN length({d}) = 9 AND {d} SIMILAR TO '[1-9][0-9]{{8}}' THEN '+33' || {d}
    WHEN length({d}) = 11 AND {d} LIKE '33%' THEN '+' || {d}
    ELSE NULL END"""


# The sorted name tokens of a row. Most rows hold a one-token given and family name
# and no full name: two tokens are ordered by one comparison, not by building lists.
_NAME_KEY = """CASE
    WHEN full_name_t IS NULL AND NOT contains(coalesce(given_name_t, ''), ' ')
         AND NOT contains(coalesce(family_name_t, ''), ' ') THEN
        CASE WHEN coalesce(given_name_t, '') = '' THEN nullif(family_name_t, '')
             WHEN coalesce(family_name_t, '') = '' THEN given_name_t
             WHEN given_name_t <= family_name_t THEN given_name_t || ' ' || family_name_t
             ELSE family_name_t || ' ' || given_name_t END
    ELSE nullif(array_to_string(list_sort(list_filter(list_concat(
        string_split(coalesce(given_name_t, ''), ' '),
        string_split(coalesce(family_name_t, ''), ' '),
        string_split(coalesce(full_name_t, ''), ' ')), lambda x: x <> '')), ' '), '') END"""


def build_dump(
    con: duckdb.DuckDBPyConnection, sources: list[Source], columns: list[Column]
) -> list[str]:
    """Create table ``dump`` (one row per leaked row, normalised); return the kinds present.

    Table ``dump_src`` stacks the sources' trimmed raw values, numbered ``row_id`` 1..n
    in source order (from each source's rowid: no window function), once; view
    ``dump_raw`` adds the parsed dates ``*_d``, E.164 phone ``phone_n``, name tokens
    ``*_t`` and country codes ``*_n`` by joining the small per-distinct-value map tables,
    so the rows are written into ``dump`` in one pass instead of updated column after
    column.
    """
    by_source: dict[int, dict[str, int]] = defaultdict(dict)
    for c in columns:
        if c.kind in LINK_KINDS and c.kind not in by_source[c.source]:
            by_source[c.source][c.kind] = c.index
    present = [k for k in LINK_KINDS if any(k in m for m in by_source.values())]
    selects = []
    offset = 0
    for s_index, source in enumerate(sources):
        mapping = by_source.get(s_index, {})
        cols = ", ".join(
            (
                f"nullif(trim(c{mapping[k]}), '') AS {k}"
                if k in mapping
                else f"CAST(NULL AS VARCHAR) AS {k}"
            )
            for k in present
        )
        sep = ", " if cols else ""
        # A source table is never deleted from: its rowid numbers its rows 0..n-1.
        selects.append(
            f"SELECT rowid + {offset + 1} AS row_id, {s_index} AS src, _line AS line{sep}{cols} "
            f"FROM {source.table}"
        )
        got = con.execute(f"SELECT count(*) FROM {source.table}").fetchall()
        offset += int(got[0][0]) if got else 0
    # The phone fast path is computed here, once: the leftovers and dump_raw read it.
    digits = "regexp_replace(phone, '[^0-9+]', '', 'g')" if "phone" in present else "NULL"
    con.execute(
        f"""CREATE OR REPLACE TABLE dump_src AS
            SELECT * EXCLUDE (digits), CAST({_PHONE_FAST.format(d="digits")} AS VARCHAR)
                AS phone_fast
            FROM (SELECT *, CAST({digits} AS VARCHAR) AS digits
                  FROM ({" UNION ALL ".join(selects)}))"""
    )
    derived: list[str] = []
    joins: list[str] = []

    def mapped(kind: str, suffix: str, table: str | None, empty: str = "VARCHAR") -> None:
        if table is None:
            derived.append(f"CAST(NULL AS {empty}) AS {kind}{suffix}")
        else:
            joins.append(f"LEFT JOIN {table} ON {table}.raw = r.{kind}")
            derived.append(f"{table}.val AS {kind}{suffix}")

    for k in ("birth_date", "entry_date", "cir_signed_on"):
        mapped(k, "_d", _date_map(con, k) if k in present else None, "DATE")
    # Phones: fast path in SQL, phonenumbers for the distinct leftovers.
    if "phone" in present:
        m = _map_distinct(con, "phone", K.normalize_phone, where="phone_fast IS NULL")
        joins.append(f"LEFT JOIN {m} ON {m}.raw = r.phone")
        derived.append(f"coalesce(r.phone_fast, {m}.val) AS phone_n")
    else:
        derived.append("CAST(NULL AS VARCHAR) AS phone_n")
    # Names: folded tokens per distinct value.
    for k in ("given_name", "family_name", K.FULL_NAME, "given_name_native", "family_name_native"):
        tokens = (
            _map_distinct(con, k, lambda v: " ".join(K.name_tokens(v))) if k in present else None
        )
        mapped(k, "_t", tokens)
    for k in ("nationality", "birth_country"):
        mapped(k, "_n", _map_distinct(con, k, country_code) if k in present else None)
    con.execute(
        f"CREATE OR REPLACE VIEW dump_raw AS SELECT r.* EXCLUDE (phone_fast), "
        f"{', '.join(derived)} FROM dump_src r {' '.join(joins)}"
    )

    def raw(k: str) -> str:
        # Raw values are trimmed already (``dump_src``).
        return k if k in present else "CAST(NULL AS VARCHAR)"

    con.execute(
        f"""
        CREATE OR REPLACE TABLE dump AS
        SELECT row_id, src, line,
            upper({raw("ref")}) AS ref_n,
            CASE WHEN {raw("email")} LIKE '%@%' THEN lower({raw("email")}) END AS email_n,
            phone_n,
            CASE WHEN regexp_full_match({raw(K.PSEUDONYM)}, '[A-Za-z2-7]{{26}}')
                 THEN lower({raw(K.PSEUDONYM)}) END AS pseudonym,
            {_NAME_KEY} AS name_key,
            nullif(array_to_string(list_sort(list_filter(list_concat(
                string_split(coalesce(given_name_native_t, ''), ' '),
                string_split(coalesce(family_name_native_t, ''), ' ')), lambda x: x <> '')), ' '),
                    '') AS native_key,
            nullif(family_name_t, '') AS family_key,
            (given_name_t IS NOT NULL AND family_name_t IS NULL AND full_name_t IS NULL) AS
                given_only,
            (family_name_t IS NOT NULL AND given_name_t IS NULL AND full_name_t IS NULL) AS
                family_only,
            birth_date_d AS birth_date, entry_date_d AS entry_date, cir_signed_on_d AS
                cir_signed_on,
            CASE WHEN regexp_full_match({raw("postal_code")}, '[0-9]{{4,5}}')
                 THEN lpad({raw("postal_code")}, 5, '0') END AS postal_code,
            CASE WHEN regexp_full_match({raw("postal_code")}, '[0-9]{{1,2}}|2[AB]|97[1-6]')
                 THEN lpad(upper({raw("postal_code")}), 2, '0') END AS department,
            coalesce(year(birth_date_d), TRY_CAST(regexp_extract({raw("birth_date")},
                '^(19[0-9]{{2}}|20[0-9]{{2}})$', 1) AS INTEGER)) AS birth_year,
            nullif(trim(lower(regexp_replace(strip_accents({raw("city")}), '[^A-Za-z0-9]+', ' ',
                'g'))), '') AS city_n,
            nullif(trim(lower(regexp_replace(strip_accents({raw("address_line")}),
                '[^A-Za-z0-9]+', ' ', 'g'))), '') AS address_n,
            nationality_n AS nationality, birth_country_n AS birth_country,
            CASE upper(left({raw("sex")}, 1)) WHEN 'F' THEN 'F' WHEN 'M' THEN 'M' WHEN 'H'
                THEN 'M'
                 WHEN 'X' THEN 'X' END AS sex,
            lower({raw("residence_reason")}) AS residence_reason,
            lower({raw("residence_status")}) AS residence_status,
            lower({raw("preferred_language")}) AS preferred_language,
            upper({raw("course_level")}) AS course_level,
            CASE WHEN regexp_full_match({raw("region")}, '[0-9]') THEN '0' || {raw("region")}
                 ELSE upper({raw("region")}) END AS region,
            TRY_CAST({raw("course_hours")} AS INTEGER) AS course_hours,
            coalesce(full_name_t, trim(coalesce(given_name_t, '') || ' ' ||
                coalesce(family_name_t, ''))) AS name_text,
            given_name_t, family_name_t, full_name_t, given_name_native_t, family_name_native_t
        FROM dump_raw
        """
    )
    return present
