"""Vigie's leak triage side by side with Splink 5 (DuckDB backend), on the same files.

Registry and messy dump: those of the leaks benchmark (``benchmarks/bench_leaks.py``:
``BENCH_PEOPLE`` people, default 200,000 here, cached under ``BENCH_LEAKS_DIR``). Each
side runs in its own process under ``/usr/bin/time -v`` (wall, CPU, peak RSS) and writes
the (line, ref) pairs it links; this process scores both against the generator's truth.

- **vigie**: ``vigie.leaks.analyze.analyze`` end to end (reading the cp1252 file as found,
  typing its columns, normalising, linking, attribution), the registry snapshot built
  beforehand as ``vigie leak prepare`` does (``BENCH_SPLINK_LIMIT_MB``, default 4096).
- **splink**: Splink 5 configured as its documentation recommends for people (see
  :data:`SPLINK_CONFIG` below, readable as it runs): the two files standardised first as
  the documentation asks (lower case, accents stripped, dates parsed, phones to E.164
  digits), ``link_only``, blocking on names and dates (plus e-mail, phone, and a swapped
  first/last name rule), comparisons for names (forename/surname with term-frequency
  adjustments on the full name), birth date, e-mail, phone and postcode; the prior from
  deterministic rules, u by random sampling, m by expectation maximisation on two
  blocking rules; predictions at a match probability of 0.9, each dump row linked to its
  best candidate. Its DuckDB gets the same memory bound as Vigie's. **Tuning effort:**
  about 35 minutes by one engineer reading the Splink 5 API (standardisation, the phone
  rule, the blocking rules), no tuning against the truth.

Splink is an optional extra: ``pip install -e ".[bench]"`` (``make bench`` does).

``BENCH_SPLINK_EVERY`` (default 1): a dump of one registry person in that many (``10``:
the 10 % dump of the growth benchmark), the rest of the registry still searched.

Usage: ``python -m benchmarks splink`` (``BENCH_PEOPLE=2100000 BENCH_SPLINK_EVERY=10`` for
OFII's scale and a 10 % dump).
"""

from __future__ import annotations

import csv
import os
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_leak_memory import timed
from benchmarks.bench_leaks import _registry, _write_files, cache_dir
from vigie.leaks.workspace import duckdb_limit_mb

PEOPLE = int(os.environ.get("BENCH_PEOPLE", "200000"))
LIMIT_MB = int(os.environ.get("BENCH_SPLINK_LIMIT_MB", "4096"))
EVERY = int(os.environ.get("BENCH_SPLINK_EVERY", "1"))
THRESHOLD = 0.9

# Standardisation, the same for both tables (Splink asks for it before linking).
_STANDARD = """
    lower(strip_accents(trim({given}))) AS first_name,
    lower(strip_accents(trim({family}))) AS surname,
    lower(strip_accents(trim({given}))) || ' ' || lower(strip_accents(trim({family})))
        AS full_name,
    {dob} AS dob,
    nullif(lower(trim({email})), '') AS email,
    nullif(CASE
        WHEN d LIKE '330%' THEN '33' || substr(d, 4)
        WHEN d LIKE '0033%' THEN substr(d, 3)
        WHEN d LIKE '0%' THEN '33' || substr(d, 2)
        ELSE d END, '') AS phone,
    nullif(trim({postal}), '') AS postcode
"""

SPLINK_CONFIG: dict[str, Any] = {
    "link_type": "link_only",
    "blocking_rules_to_generate_predictions": [
        ("first_name", "surname"),
        ("surname", "dob"),
        ("first_name", "dob"),
        ("email",),
        ("phone",),
        "l.first_name = r.surname AND l.surname = r.first_name",  # swapped names
    ],
    "comparisons": [
        "ForenameSurnameComparison(first_name, surname, concat full_name, TF on full_name)",
        "DateOfBirthComparison(dob)",
        "EmailComparison(email)",
        "ExactMatch(phone)",
        "PostcodeComparison(postcode)",
    ],
    "prior": "deterministic rules email, (first_name, surname, dob); recall 0.8",
    "u": "estimate_u_using_random_sampling(max_pairs=5e6, seed=1)",
    "em": ["block_on(dob)", "block_on(first_name, surname)"],
    "threshold_match_probability": THRESHOLD,
}


def _splink(registry_db: Path, dump: Path, out: Path) -> None:
    import duckdb
    import splink.comparison_library as cl
    from splink import Linker, SettingsCreator, block_on
    from splink.backends.duckdb import DuckDBAPI

    started = time.perf_counter()
    # Splink's DuckDB gets the same share of the same bound as Vigie's (and may spill):
    # left to DuckDB's default (80 % of the machine) it took 18 GB at 200,000 people.
    con = duckdb.connect(
        config={
            "memory_limit": f"{duckdb_limit_mb(LIMIT_MB)}MB",
            "temp_directory": str(out.with_suffix(".spill")),
        }
    )
    # The registry's current values, exported from SQLite to CSV (DuckDB's SQLite
    # extension would need a download).
    exported = out.with_suffix(".registry.csv")
    columns = "ref, given_name, family_name, birth_date, email, phone, postal_code"
    with sqlite3.connect(registry_db) as db_in, exported.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns.split(", "))
        cursor = db_in.execute(f"SELECT {columns} FROM subjects WHERE NOT is_canary")
        while batch := cursor.fetchmany(100_000):
            writer.writerows(batch)
    con.execute(
        "CREATE TABLE registry AS SELECT ref AS unique_id, "
        + _STANDARD.format(
            given="given_name",
            family="family_name",
            dob="TRY_CAST(birth_date AS DATE)",
            email="email",
            postal="postal_code",
        )
        + " FROM (SELECT *, regexp_replace(coalesce(phone, ''), '[^0-9]', '', 'g') AS d "
        "FROM read_csv(?, header=true, all_varchar=true))",
        [str(exported)],
    )
    exported.unlink()
    # DuckDB reads UTF-8: the cp1252 file is transcoded first, as a data engineer would.
    utf8 = out.with_suffix(".utf8.csv")
    with dump.open(encoding="cp1252", newline="") as f, utf8.open("w", encoding="utf-8") as g:
        g.write(f.read())
    con.execute(
        "CREATE TABLE dump AS SELECT 'L' || CAST(line AS VARCHAR) AS unique_id, "
        + _STANDARD.format(
            given='"Prénom"',
            family="Nom",
            dob="TRY_CAST(strptime(nullif(date_naiss, ''), '%d/%m/%Y') AS DATE)",
            email="courriel",
            postal="CP",
        )
        + " FROM (SELECT *, row_number() OVER () + 1 AS line, "
        "regexp_replace(coalesce(tel, ''), '[^0-9]', '', 'g') AS d "
        "FROM read_csv(?, delim=';', header=true, all_varchar=true))",
        [str(utf8)],
    )
    utf8.unlink()
    prepared = time.perf_counter() - started
    db = DuckDBAPI(con)
    rules: list[Any] = [
        block_on(*r) if isinstance(r, tuple) else r
        for r in SPLINK_CONFIG["blocking_rules_to_generate_predictions"]
    ]
    settings = SettingsCreator(
        link_type="link_only",
        blocking_rules_to_generate_predictions=rules,
        comparisons=[
            cl.ForenameSurnameComparison(
                "first_name", "surname", forename_surname_concat_col_name="full_name"
            ),
            cl.DateOfBirthComparison("dob", input_is_string=False),
            cl.EmailComparison("email"),
            cl.ExactMatch("phone"),
            cl.PostcodeComparison("postcode"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker([db.register("registry"), db.register("dump")], settings)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("email"), block_on("first_name", "surname", "dob")], recall=0.8
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=5e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("first_name", "surname")
    )
    trained = time.perf_counter() - started
    pairs = linker.inference.predict(threshold_match_probability=THRESHOLD).physical_name
    rows = con.execute(
        f"""SELECT CAST(substr(l_id, 2) AS BIGINT), r_id FROM (
                SELECT CASE WHEN unique_id_l LIKE 'L%' THEN unique_id_l ELSE unique_id_r END
                           AS l_id,
                       CASE WHEN unique_id_l LIKE 'L%' THEN unique_id_r ELSE unique_id_l END
                           AS r_id, match_probability AS p
                FROM {pairs})
            QUALIFY row_number() OVER (PARTITION BY l_id ORDER BY p DESC, r_id) = 1"""
    ).fetchall()
    _write_links(out, rows)
    _say(out, f"splink: standardised in {prepared:.1f} s, trained by {trained:.1f} s, "
              f"{len(rows)} rows linked in {time.perf_counter() - started:.1f} s")  # fmt: skip


def _vigie(data: Path, dump: Path, out: Path) -> None:
    from vigie.leaks.analyze import analyze
    from vigie.secrets import load_secrets
    from vigie.settings import Settings
    from vigie.store.engine import make_engine

    settings = Settings(data_dir=data, leak_memory_limit_mb=LIMIT_MB)
    engine = make_engine(settings.resolved_database_url)
    started = time.perf_counter()
    report = analyze(
        engine,
        paths=[dump],
        secrets=load_secrets(settings.resolved_secrets_dir),
        settings=settings,
        keep_links=True,
    )
    _write_links(out, [(line, ref) for _f, line, ref, _c in report.links])
    _say(out, f"vigie: {report.matched_rows} rows linked in "
              f"{time.perf_counter() - started:.1f} s; stages {report.timings}")  # fmt: skip


def _prepare(data: Path) -> None:
    from vigie.leaks.snapshot import prepare
    from vigie.secrets import load_secrets
    from vigie.settings import Settings
    from vigie.store.engine import make_engine

    settings = Settings(data_dir=data)
    with make_engine(settings.resolved_database_url).connect() as conn:
        prepare(
            conn,
            data_dir=data,
            secrets=load_secrets(settings.resolved_secrets_dir),
            limit_mb=LIMIT_MB,
        )


def _say(out: Path, message: str) -> None:
    """A side's own account of its stages, for the parent to print (its stdout is
    captured by ``/usr/bin/time``)."""
    out.with_suffix(".log").write_text(message + "\n")


def _write_links(out: Path, rows: list[tuple[int, str]]) -> None:
    with out.open("w", newline="") as f:
        csv.writer(f).writerows(rows)


def _read_links(out: Path) -> dict[int, str]:
    with out.open(newline="") as f:
        return {int(line): ref for line, ref in csv.reader(f)}


def main() -> None:
    base = cache_dir()
    settings, data = _registry(base, PEOPLE)
    files = data / "files"
    files.mkdir(exist_ok=True)
    dump, _clean, _reg, truth, partial, kept = _write_files(settings, files, EVERY)
    _prepare(data)
    print(f"{PEOPLE} people, a dump of {len(truth)} rows (one in {EVERY}); load average "
          f"{os.getloadavg()}; Splink config: {SPLINK_CONFIG}", flush=True)  # fmt: skip
    results = {}
    for side in ("vigie", "splink"):
        out = files / f"links-{side}.csv"
        m = timed(
            [sys.executable, "-m", "benchmarks.bench_splink", side, str(data), str(dump), str(out)],
            dict(os.environ),
        )
        log = out.with_suffix(".log")
        print(f"{side} done, load average {os.getloadavg()}; "
              f"{log.read_text().strip() if log.exists() else ''}", flush=True)  # fmt: skip
        if m.status:
            print(f"{side}: exit {m.status}")
            continue
        results[side] = (m, _read_links(out))
    for side, (m, linked) in results.items():

        def quality(lines: set[int], linked: dict[int, str] = linked) -> tuple[float, float]:
            got = {ln: linked[ln] for ln in lines if ln in linked}
            right = sum(1 for ln, ref in got.items() if truth[ln] == ref)
            return right / max(len(got), 1), right / max(len(lines), 1)

        p_all, r_all = quality(set(truth))
        p_part, r_part = quality(partial)
        print(f"{side:<7} wall {m.wall:6.1f} s  cpu {m.cpu:6.1f} s  peak RSS {m.peak_mb:6.0f} MB  "
              f"all rows: precision {p_all:.4%} recall {r_all:.4%}  name + one field: "
              f"precision {p_part:.4%} recall {r_part:.4%}")  # fmt: skip
        for name in sorted(set(kept.values())):
            p, r = quality({ln for ln, f in kept.items() if f == name})
            print(f"        name + {name} only: precision {p:.4%}, recall {r:.4%}")
    if len(results) == 2:
        (splink, _), (vigie, _) = results["splink"], results["vigie"]
        print(f"ratio splink / vigie: wall {splink.wall / vigie.wall:.2f}x, "
              f"CPU {splink.cpu / vigie.cpu:.2f}x")  # fmt: skip


if __name__ == "__main__":
    side, data, dump, out = sys.argv[1:5]
    if side == "vigie":
        _vigie(Path(data), Path(dump), Path(out))
    else:
        _splink(Path(data) / "vigie.db", Path(dump), Path(out))
