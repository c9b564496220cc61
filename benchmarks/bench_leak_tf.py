"""Term-frequency adjustments on and off: linking precision and recall on the leaks dumps.

With ``leak_term_frequency`` on (the default), an agreeing name, family name, birth date
or postal code weighs ``log2(N / f)`` bits for a value ``f`` people share; off, every
value of a field weighs the same (Splink's weight before its term-frequency
adjustment; :class:`vigie.leaks.linking.Weights`). For each registry size of
``BENCH_TF_PEOPLE`` (default ``200000``), reuses or builds the leaks benchmark's
registry and messy dump (``benchmarks/bench_leaks.py``, cached under
``BENCH_LEAKS_DIR``), and the dump of one person in ten when ``BENCH_TF_EVERY=10``; then
triages each dump warm, both ways, and prints precision and recall against the truth:
on all rows, and on the rows holding a name and one other field only (birth date,
e-mail or phone), where a name's weight decides most.

Usage: ``python -m benchmarks leak_tf``.
"""

from __future__ import annotations

import os
import time

from benchmarks.bench_leaks import _registry, _write_files, cache_dir
from vigie.leaks.analyze import analyze
from vigie.leaks.report import LeakReport
from vigie.secrets import load_secrets
from vigie.store.engine import make_engine

SIZES = [int(n) for n in os.environ.get("BENCH_TF_PEOPLE", "200000").split(",")]
EVERY = int(os.environ.get("BENCH_TF_EVERY", "1"))


def quality(
    report: LeakReport, truth: dict[int, str], lines: set[int]
) -> tuple[float, float, int, int]:
    """Precision, recall, wrong links and missed rows over ``lines``."""
    linked = {line: ref for _f, line, ref, _c in report.links}
    got = {ln: linked[ln] for ln in lines if ln in linked}
    correct = sum(1 for ln, ref in got.items() if truth[ln] == ref)
    return (
        correct / max(len(got), 1),
        correct / max(len(lines), 1),
        len(got) - correct,
        len(lines) - len(got),
    )


def main() -> None:
    base = cache_dir()
    print(f"load average {os.getloadavg()[0]:.1f}", flush=True)
    for people in SIZES:
        settings, data = _registry(base, people)
        files = data / "files"
        files.mkdir(exist_ok=True)
        # The generator is seeded: writing the files again gives the same rows and truth.
        dump, _clean, _reg, truth, partial, kept = _write_files(settings, files, every=EVERY)
        secrets = load_secrets(settings.resolved_secrets_dir)
        engine = make_engine(settings.resolved_database_url)
        parts = {"all rows": set(truth), "name + one field": partial}
        for name in sorted(set(kept.values())):
            parts[f"name + {name} only"] = {ln for ln, f in kept.items() if f == name}
        analyze(engine, paths=[dump], secrets=secrets, settings=settings)  # the snapshot, warm
        for tf in (True, False):
            run = settings.model_copy(update={"leak_term_frequency": tf})
            started = time.perf_counter()
            report = analyze(engine, paths=[dump], secrets=secrets, settings=run, keep_links=True)
            seconds = time.perf_counter() - started
            print(f"{people} people, {dump.name} ({len(truth)} rows), term frequencies "
                  f"{'on' if tf else 'off'}: {seconds:.1f} s, {report.matched_rows} linked, "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
            for label, lines in parts.items():
                p, r, wrong, missed = quality(report, truth, lines)
                print(f"  {label:<28} ({len(lines):>8} rows): precision {p:.4%} ({wrong} wrong), "
                      f"recall {r:.4%} ({missed} not linked)", flush=True)  # fmt: skip
        engine.dispose()
