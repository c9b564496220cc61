"""Splink 5 as the Splink benchmark configures it (``benchmarks/bench_splink.py``).

The standardised tables (:func:`load_tables`), the model's settings
(:data:`SPLINK_CONFIG`, printed by each run), the check of the blocking rules with
Splink's own tools (:func:`blocking_report`), and the linkage itself with each training
step timed (:func:`link`).

**Blocking rules, and why they changed at 2.1 million people.** Splink's documentation
asks that the blocking rules for prediction be checked with
``splink.blocking_analysis.count_comparisons_from_blocking_rules`` and kept to a number
of comparisons the backend can score (its guides speak of tens of millions on a laptop),
tightening a rule that generates too many by adding a field to it. The rules first used
here (``(first_name, surname)``, ``(surname, dob)``, ``(first_name, dob)``, e-mail,
phone, swapped names) were fine at 200,000 people; at 2.1 million their counts are
printed by :func:`blocking_report` (``python -m benchmarks.bench_splink blocking``) and
recorded in docs/benchmarks.md. The rules kept (:data:`PREDICTION_RULES`) were chosen
from those counts alone, never from the ground truth.
"""

from __future__ import annotations

import csv
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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

# The rules first used (fine at 200,000 people): each is a tuple of columns for
# ``block_on`` or a SQL condition.
FIRST_RULES: list[tuple[str, ...] | str] = [
    ("first_name", "surname"),
    ("surname", "dob"),
    ("first_name", "dob"),
    ("email",),
    ("phone",),
    "l.first_name = r.surname AND l.surname = r.first_name",  # swapped names
]
FIRST_EM: list[tuple[str, ...] | str] = [("dob",), ("first_name", "surname")]

# The rules kept at 2.1 million people: the two name-only rules of FIRST_RULES each get
# a second field (as Splink's documentation recommends for a rule whose blocks are too
# big), the swapped-name rule pairs one name with the birth date; the rest unchanged.
PREDICTION_RULES: list[tuple[str, ...] | str] = [
    ("surname", "dob"),
    ("first_name", "dob"),
    ("email",),
    ("phone",),
    ("first_name", "surname", "postcode"),
    "l.first_name = r.first_name AND l.surname = r.surname AND year(l.dob) = year(r.dob)",
    "l.first_name = r.surname AND l.dob = r.dob",  # swapped names
    "l.surname = r.first_name AND l.dob = r.dob",  # swapped names
    "l.first_name = r.surname AND l.surname = r.first_name AND l.postcode = r.postcode",
]
# EM: Splink asks for training rules whose pairs are between about 1 % and 99 % matches;
# ``(first_name, surname)`` alone gave 116 million pairs for at most 210,013 matches.
EM_RULES: list[tuple[str, ...] | str] = [("dob",), ("first_name", "surname", "postcode")]
# Splink 5's EM samples about this many pairs of each training block (its ``max_pairs``)
# instead of scoring them all: at 2.1 million people, scoring the 28 million pairs of the
# ``dob`` block was 84 % of Splink's CPU time, and sampling 5 million gave the same
# links. ``BENCH_SPLINK_EM_MAX_PAIRS`` sets it (``0``: no sampling, the first setting).
EM_MAX_PAIRS = float(os.environ.get("BENCH_SPLINK_EM_MAX_PAIRS", "5e6")) or None

SPLINK_CONFIG: dict[str, Any] = {
    "link_type": "link_only",
    "blocking_rules_to_generate_predictions": PREDICTION_RULES,
    "comparisons": [
        "ForenameSurnameComparison(first_name, surname, concat full_name, TF on full_name)",
        "DateOfBirthComparison(dob)",
        "EmailComparison(email)",
        "ExactMatch(phone)",
        "PostcodeComparison(postcode)",
    ],
    "prior": "deterministic rules email, (first_name, surname, dob); recall 0.8",
    "u": "estimate_u_using_random_sampling(max_pairs=5e6, seed=1)",
    "em": [f"block_on{r}" if isinstance(r, tuple) else r for r in EM_RULES],
    "em_max_pairs": EM_MAX_PAIRS,
    "threshold_match_probability": THRESHOLD,
}


def load_tables(con: Any, *, registry_db: Path, dump: Path, work: Path) -> None:
    """Tables ``registry`` and ``dump`` in ``con``, standardised the same way.

    The registry's current values are exported from SQLite to CSV first (DuckDB's SQLite
    extension would need a download); the cp1252 dump is transcoded to UTF-8, as a data
    engineer would, since DuckDB reads UTF-8 only.
    """
    exported = work.with_suffix(".registry.csv")
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
    utf8 = work.with_suffix(".utf8.csv")
    with dump.open(encoding="cp1252", newline="") as f, utf8.open("w", encoding="utf-8") as g:
        while chunk := f.read(1 << 24):
            g.write(chunk)
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


def _rules(rules: list[tuple[str, ...] | str]) -> list[Any]:
    from splink import block_on

    return [block_on(*r) if isinstance(r, tuple) else r for r in rules]


def _sql(rule: Any) -> str:
    """A rule as Splink writes it (``block_on`` rules spelt out)."""
    return rule if isinstance(rule, str) else rule.get_blocking_rule("duckdb").blocking_rule_sql


def blocking_report(
    con: Any, rules: list[tuple[str, ...] | str], say: Callable[[str], None]
) -> None:
    """Splink's own count of the comparisons each rule generates (marginal and
    cumulative, exact), and each rule's largest blocks before its filter conditions."""
    from splink.backends.duckdb import DuckDBAPI
    from splink.blocking_analysis import count_comparisons_from_blocking_rules, n_largest_blocks

    db = DuckDBAPI(con)
    tables = [db.register("registry"), db.register("dump")]
    for rule in _rules(rules):
        started = time.perf_counter()
        largest = n_largest_blocks(tables, blocking_rule=rule, link_type="link_only", n_largest=3)
        blocks = [
            (tuple(v for k, v in b.items() if k.startswith("key_")), b["count_l"], b["count_r"])
            for b in largest.as_record_list()
        ]
        say(f"largest blocks of {_sql(rule)} (registry, dump people): {blocks} "
            f"({time.perf_counter() - started:.1f} s)")  # fmt: skip
    started = time.perf_counter()
    records = count_comparisons_from_blocking_rules(
        tables, blocking_rules=_rules(rules), link_type="link_only", record_sample_proportion=1.0
    )
    for r in records:
        say(f"{r['blocking_rule']}: {r['marginal_comparison_count']:,} new comparisons, "
            f"{r['cumulative_comparison_count']:,} cumulative")  # fmt: skip
    say(f"counted in {time.perf_counter() - started:.1f} s")


class Steps:
    """Wall and CPU time of each named step, said as each ends."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say
        self.times: dict[str, tuple[float, float]] = {}

    def run(self, name: str, step: Callable[[], Any]) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        result = step()
        self.times[name] = (time.perf_counter() - wall, time.process_time() - cpu)
        self.say(f"{name}: {self.times[name][0]:.1f} s wall, {self.times[name][1]:.1f} s CPU")
        return result


def link(
    con: Any,
    say: Callable[[str], None],
    *,
    rules: list[tuple[str, ...] | str] = PREDICTION_RULES,
    em: list[tuple[str, ...] | str] = EM_RULES,
    predict: bool = True,
) -> list[tuple[int, str]]:
    """Train the model on ``registry`` and ``dump`` (each step timed and said), then,
    if ``predict``, the (dump line, ref) of each dump row's best candidate at or above
    :data:`THRESHOLD`."""
    import splink.comparison_library as cl
    from splink import Linker, SettingsCreator, block_on
    from splink.backends.duckdb import DuckDBAPI

    db = DuckDBAPI(con)
    settings = SettingsCreator(
        link_type="link_only",
        blocking_rules_to_generate_predictions=_rules(rules),
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
    training = linker.training
    steps = Steps(say)
    steps.run("prior from deterministic rules", lambda: (
        training.estimate_probability_two_random_records_match(
            [block_on("email"), block_on("first_name", "surname", "dob")], recall=0.8
        )
    ))  # fmt: skip
    steps.run("u by random sampling", lambda: (
        training.estimate_u_using_random_sampling(max_pairs=5e6, seed=1)
    ))  # fmt: skip
    for rule in _rules(em):
        steps.run(f"EM on {_sql(rule)}", lambda rule=rule: (
            training.estimate_parameters_using_expectation_maximisation(
                rule, max_pairs=EM_MAX_PAIRS
            )
        ))  # fmt: skip
    if not predict:
        return []
    pairs = steps.run("predict", lambda: (
        linker.inference.predict(threshold_match_probability=THRESHOLD)
    )).physical_name  # fmt: skip
    return steps.run("best candidate per row", lambda: con.execute(
        f"""SELECT CAST(substr(l_id, 2) AS BIGINT), r_id FROM (
                SELECT CASE WHEN unique_id_l LIKE 'L%' THEN unique_id_l ELSE unique_id_r END
                           AS l_id,
                       CASE WHEN unique_id_l LIKE 'L%' THEN unique_id_r ELSE unique_id_l END
                           AS r_id, match_probability AS p
                FROM {pairs})
            QUALIFY row_number() OVER (PARTITION BY l_id ORDER BY p DESC, r_id) = 1"""
    ).fetchall())  # fmt: skip
