"""Vigie's leak triage side by side with Splink 5 (DuckDB backend), on the same files.

Registry and messy dump: those of the leaks benchmark (``benchmarks/bench_leaks.py``:
``BENCH_PEOPLE`` people, default 200,000 here, cached under ``BENCH_LEAKS_DIR``). Each
side runs in its own process under ``/usr/bin/time -v`` (wall, CPU, peak RSS) and writes
the (line, ref) pairs it links; this process scores both against the generator's truth.

- **vigie**: ``vigie.leaks.analyze.analyze`` end to end (reading the cp1252 file as found,
  typing its columns, normalising, linking, attribution), the registry snapshot built
  beforehand as ``vigie leak prepare`` does (``BENCH_SPLINK_LIMIT_MB``, default 4096).
- **splink**: Splink 5 configured as its documentation recommends for people (see
  ``benchmarks/splink_model.py``, and :data:`SPLINK_CONFIG` printed as it runs): the
  two files standardised first as
  the documentation asks (lower case, accents stripped, dates parsed, phones to E.164
  digits), ``link_only``, blocking on names and dates (plus e-mail, phone, and swapped
  first/last names), each rule held to a number of comparisons DuckDB can score as
  Splink's documentation asks (checked with its own counting, the ``blocking`` run
  below), comparisons for names (forename/surname with term-frequency
  adjustments on the full name), birth date, e-mail, phone and postcode; the prior from
  deterministic rules, u by random sampling, m by expectation maximisation on two
  blocking rules; predictions at a match probability of 0.9, each dump row linked to its
  best candidate. Its DuckDB gets the same memory bound as Vigie's. **Tuning effort:**
  about 35 minutes by one engineer reading the Splink 5 API (standardisation, the phone
  rule, the blocking rules), then about 20 minutes at 2.1 million people (the comparison
  counts, the rules given a second field, EM's pairs sampled), no tuning against the
  truth.
- **blocking** (run first): Splink's ``count_comparisons_from_blocking_rules`` (exact)
  and ``n_largest_blocks`` for the first rules, the kept rules and the EM rules.
- **splink-first** (``BENCH_SPLINK_FIRST=1``): the first configuration's training steps,
  each timed, no prediction.

Splink is an optional extra: ``pip install -e ".[bench]"`` (``make bench`` does).

``BENCH_SPLINK_EM_MAX_PAIRS`` (default 5e6; ``0`` for none): Splink 5's EM samples about
that many pairs of each training block (its ``max_pairs``) instead of scoring them all.

``BENCH_SPLINK_EVERY`` (default 1): a dump of one registry person in that many (``10``:
the 10 % dump of the growth benchmark), the rest of the registry still searched.

``BENCH_SPLINK_SIDES`` (default ``blocking,vigie,splink``): the runs to make, in order
(``vigie,splink`` skips Splink's comparison counts, about a minute of CPU at 2.1 million).

Usage: ``python -m benchmarks splink`` (``BENCH_PEOPLE=2100000 BENCH_SPLINK_EVERY=10`` for
OFII's scale and a 10 % dump).
"""

from __future__ import annotations

import csv
import os
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_leak_memory import timed
from benchmarks.bench_leaks import _registry, _write_files, cache_dir
from benchmarks.splink_model import (
    EM_RULES,
    FIRST_EM,
    FIRST_RULES,
    PREDICTION_RULES,
    SPLINK_CONFIG,
    blocking_report,
    link,
    load_tables,
)
from vigie.leaks.workspace import duckdb_limit_mb

PEOPLE = int(os.environ.get("BENCH_PEOPLE", "200000"))
LIMIT_MB = int(os.environ.get("BENCH_SPLINK_LIMIT_MB", "4096"))
EVERY = int(os.environ.get("BENCH_SPLINK_EVERY", "1"))
# Also time the training steps of the first configuration (FIRST_RULES, FIRST_EM), no
# prediction: where its time went when it did not finish at 2.1 million people.
FIRST = os.environ.get("BENCH_SPLINK_FIRST", "") == "1"
SIDES = os.environ.get("BENCH_SPLINK_SIDES", "blocking,vigie,splink").split(",")


def _connect(out: Path) -> Any:
    """Splink's DuckDB, with the same share of the same bound as Vigie's (it may spill):
    left to DuckDB's default (80 % of the machine) it took 18 GB at 200,000 people."""
    import duckdb

    return duckdb.connect(
        config={
            "memory_limit": f"{duckdb_limit_mb(LIMIT_MB)}MB",
            "temp_directory": str(out.with_suffix(".spill")),
        }
    )


def _splink(side: str, registry_db: Path, dump: Path, out: Path) -> None:
    """One Splink run: ``splink`` links with the kept configuration, ``blocking``
    counts the comparisons of both configurations' rules, ``splink-first`` times the
    first configuration's training steps."""
    lines: list[str] = []

    def say(message: str) -> None:
        lines.append(message)
        _say(out, "\n".join(lines))

    started = time.perf_counter()
    con = _connect(out)
    load_tables(con, registry_db=registry_db, dump=dump, work=out)
    say(f"standardised in {time.perf_counter() - started:.1f} s")
    if side == "blocking":
        for name, rules in (("first", FIRST_RULES), ("kept", PREDICTION_RULES),
                            ("first EM", FIRST_EM), ("kept EM", EM_RULES)):  # fmt: skip
            say(f"-- {name} rules")
            blocking_report(con, rules, say)
    elif side == "splink-first":
        link(con, say, rules=FIRST_RULES, em=FIRST_EM, predict=False)
    else:
        rows = link(con, say)
        _write_links(out, rows)
        say(f"{len(rows)} rows linked in {time.perf_counter() - started:.1f} s")


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
    sides = tuple(SIDES) + (("splink-first",) if FIRST else ())
    for side in sides:
        out = files / f"links-{side}.csv"
        m = timed(
            [sys.executable, "-m", "benchmarks.bench_splink", side, str(data), str(dump), str(out)],
            dict(os.environ),
        )
        log = out.with_suffix(".log")
        print(f"{side} done, load average {os.getloadavg()}; "
              f"{log.read_text().strip() if log.exists() else ''}", flush=True)  # fmt: skip
        print(f"{side}: wall {m.wall:.1f} s, CPU {m.cpu:.1f} s, peak RSS {m.peak_mb:.0f} MB")
        if m.status:
            print(f"{side}: exit {m.status}")
        elif side in ("vigie", "splink"):
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
        _splink(side, Path(data) / "vigie.db", Path(dump), Path(out))
