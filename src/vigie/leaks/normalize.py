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

# Kinds carried into the dump table (others are typed and reported, not linked).
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
    "entry_date",
    "residence_reason",
    "residence_status",
    "cir_signed_on",
    "course_level",
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
    con: duckdb.DuckDBPyConnection, table: str, column: str, func: object, where: str = "TRUE"
) -> str:
    """Apply ``func`` to each distinct value of ``column`` (under ``where``); return a map table."""
    assert callable(func)
    name = f"map_{column}"
    values = [
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL AND ({where})"
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
    row = con.execute(
        f"""SELECT count(*) FILTER (WHERE TRY_CAST(s.b AS INT) > 12),
                   count(*) FILTER (WHERE TRY_CAST(s.a AS INT) > 12)
            FROM (SELECT regexp_extract({column}, '^(\\d{{1,2}})[/.-](\\d{{1,2}})[/.-]\\d{{2,4}}$',
                                        ['a', 'b']) AS s
                  FROM {table} WHERE {column} IS NOT NULL)"""
    ).fetchall()[0]
    second_big, first_big = (int(row[0]), int(row[1])) if row else (0, 0)
    return not (second_big > 0 and first_big == 0)


def _parse_dates(con: duckdb.DuckDBPyConnection, column: str) -> None:
    formats = _DATE_FORMATS_DAY if _day_first(con, "dump_raw", column) else _DATE_FORMATS_MONTH
    fmt_list = "[" + ", ".join(f"'{f}'" for f in formats) + "]"
    con.execute(
        f"UPDATE dump_raw SET {column}_d = CAST(try_strptime(trim({column}), {fmt_list}) AS DATE) "
        f"WHERE {column} IS NOT NULL"
    )
    day_first = formats is _DATE_FORMATS_DAY
    m = _map_distinct(
        con,
        "dump_raw",
        column,
        lambda v: d.isoformat() if (d := K.parse_date(v, day_first=day_first)) else None,
        where=f"{column}_d IS NULL",
    )
    con.execute(
        f"UPDATE dump_raw SET {column}_d = CAST({m}.val AS DATE) FROM {m} "
        f"WHERE dump_raw.{column} = {m}.raw AND dump_raw.{column}_d IS NULL"
    )


def build_dump(
    con: duckdb.DuckDBPyConnection, sources: list[Source], columns: list[Column]
) -> list[str]:
    """Create table ``dump`` (one row per leaked row, normalised); return the kinds present."""
    by_source: dict[int, dict[str, int]] = defaultdict(dict)
    for c in columns:
        if c.kind in LINK_KINDS and c.kind not in by_source[c.source]:
            by_source[c.source][c.kind] = c.index
    present = [k for k in LINK_KINDS if any(k in m for m in by_source.values())]
    selects = []
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
        selects.append(f"SELECT {s_index} AS src, _line AS line{sep}{cols} FROM {source.table}")
    con.execute(
        "CREATE OR REPLACE TABLE dump_raw AS SELECT row_number() OVER () AS row_id, * FROM ("
        + " UNION ALL ".join(selects)
        + ")"
    )
    for k in ("birth_date", "entry_date", "cir_signed_on"):
        con.execute(f"ALTER TABLE dump_raw ADD COLUMN {k}_d DATE")
        if k in present:
            _parse_dates(con, k)
    # Phones: fast path in SQL, phonenumbers for the distinct leftovers.
    con.execute("ALTER TABLE dump_raw ADD COLUMN phone_n VARCHAR")
    if "phone" in present:
        con.execute(
            r"""UPDATE dump_raw SET phone_n = CASE
                WHEN d LIKE '+330%' AND length(d) = 13 THEN '+33' || substr(d, 5)
                WHEN d LIKE '+%' AND length(d) BETWEEN 9 AND 16 THEN d
                WHEN d LIKE '00%' AND length(d) BETWEEN 10 AND 17 THEN '+' || substr(d, 3)
                WHEN length(d) = 10 AND d LIKE '0%' THEN '+33' || substr(d, 2)
                WHEN length(d) = 9 AND d SIMILAR TO '[1-9][0-9]{8}' THEN '+33' || d
                WHEN length(d) = 11 AND d LIKE '33%' THEN '+' || d
                ELSE NULL END
            FROM (SELECT row_id AS rid, regexp_replace(phone, '[^0-9+]', '', 'g') AS d
                  FROM dump_raw WHERE phone IS NOT NULL) p
            WHERE dump_raw.row_id = p.rid"""
        )
        m = _map_distinct(con, "dump_raw", "phone", K.normalize_phone, where="phone_n IS NULL")
        con.execute(
            f"UPDATE dump_raw SET phone_n = {m}.val FROM {m} "
            f"WHERE dump_raw.phone = {m}.raw AND dump_raw.phone_n IS NULL"
        )
    # Names: folded tokens per distinct value.
    for k in ("given_name", "family_name", K.FULL_NAME, "given_name_native", "family_name_native"):
        con.execute(f"ALTER TABLE dump_raw ADD COLUMN {k}_t VARCHAR")
        if k in present:
            m = _map_distinct(con, "dump_raw", k, lambda v: " ".join(K.name_tokens(v)))
            con.execute(
                f"UPDATE dump_raw SET {k}_t = {m}.val FROM {m} WHERE dump_raw.{k} = {m}.raw"
            )
    for k in ("nationality", "birth_country"):
        con.execute(f"ALTER TABLE dump_raw ADD COLUMN {k}_n VARCHAR")
        if k in present:
            m = _map_distinct(con, "dump_raw", k, country_code)
            con.execute(
                f"UPDATE dump_raw SET {k}_n = {m}.val FROM {m} WHERE dump_raw.{k} = {m}.raw"
            )

    def raw(k: str) -> str:
        return k if k in present else "CAST(NULL AS VARCHAR)"

    con.execute(
        f"""
        CREATE OR REPLACE TABLE dump AS
        SELECT row_id, src, line,
            upper(trim({raw("ref")})) AS ref_n,
            CASE WHEN {raw("email")} LIKE '%@%' THEN lower(trim({raw("email")})) END AS email_n,
            phone_n,
            CASE WHEN regexp_full_match(trim({raw(K.PSEUDONYM)}), '[A-Za-z2-7]{{26}}')
                 THEN lower(trim({raw(K.PSEUDONYM)})) END AS pseudonym,
            nullif(array_to_string(list_sort(list_filter(list_concat(
                string_split(coalesce(given_name_t, ''), ' '),
                    string_split(coalesce(family_name_t, ''), ' '),
                string_split(coalesce(full_name_t, ''), ' ')), lambda x: x <> '')), ' '), '') AS
                    name_key,
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
            CASE WHEN regexp_full_match(trim({raw("postal_code")}), '[0-9]{{4,5}}')
                 THEN lpad(trim({raw("postal_code")}), 5, '0') END AS postal_code,
            CASE WHEN regexp_full_match(trim({raw("postal_code")}), '[0-9]{{1,2}}|2[AB]|97[1-6]')
                 THEN lpad(upper(trim({raw("postal_code")})), 2, '0') END AS department,
            coalesce(year(birth_date_d), TRY_CAST(regexp_extract(trim({raw("birth_date")}),
                '^(19[0-9]{{2}}|20[0-9]{{2}})$', 1) AS INTEGER)) AS birth_year,
            nullif(trim(lower(regexp_replace(strip_accents({raw("city")}), '[^A-Za-z0-9]+', ' ',
                'g'))), '') AS city_n,
            nullif(trim(lower(regexp_replace(strip_accents({raw("address_line")}),
                '[^A-Za-z0-9]+', ' ', 'g'))), '') AS address_n,
            nationality_n AS nationality, birth_country_n AS birth_country,
            CASE upper(left(trim({raw("sex")}), 1)) WHEN 'F' THEN 'F' WHEN 'M' THEN 'M' WHEN 'H'
                THEN 'M'
                 WHEN 'X' THEN 'X' END AS sex,
            lower(trim({raw("residence_reason")})) AS residence_reason,
            lower(trim({raw("residence_status")})) AS residence_status,
            lower(trim({raw("preferred_language")})) AS preferred_language,
            upper(trim({raw("course_level")})) AS course_level,
            coalesce(full_name_t, trim(coalesce(given_name_t, '') || ' ' ||
                coalesce(family_name_t, ''))) AS name_text
        FROM dump_raw
        """
    )
    return present
