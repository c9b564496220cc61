"""`vigie leak explain` on a large stored analysis: one block opened, not the report.

Uses the leaks benchmark's registry of ``BENCH_EXPLAIN_PEOPLE`` people (default 200,000;
built or reused under ``BENCH_LEAKS_DIR``) and its messy dump of one person in
``BENCH_EXPLAIN_EVERY`` (default 1: everyone). Each command runs in its own process under
``/usr/bin/time -v`` with ``VIGIE_LEAK_MEMORY_LIMIT_MB`` = ``BENCH_EXPLAIN_LIMIT_MB``
(default 1024):

1. ``vigie leak prepare`` (reused when the snapshot is up to date);
2. ``vigie leak analyze DUMP --explain --json FILE``: every linked row explained, the
   report stored (its explanations in sealed blocks);
3. ``vigie leak explain ID ROW --json`` for the first, middle and last linked rows;
4. for comparison, what the former ``vigie leak explain`` did before showing one row:
   parse the whole report with its explanations (``json.load`` of the JSON file written
   in 2., which is what it inflated and parsed) — a lower bound of its cost, since it also
   held the ciphertext and the inflated bytes.

Usage: ``python -m benchmarks leak_explain`` (``BENCH_EXPLAIN_PEOPLE=2100000
BENCH_EXPLAIN_EVERY=10`` for OFII's registry and a 10 % dump).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from benchmarks.bench_leak_memory import VIGIE, Measured, timed
from benchmarks.bench_leaks import _registry, _write_files, cache_dir
from vigie.settings import Settings

PEOPLE = int(os.environ.get("BENCH_EXPLAIN_PEOPLE", "200000"))
EVERY = int(os.environ.get("BENCH_EXPLAIN_EVERY", "1"))
LIMIT_MB = int(os.environ.get("BENCH_EXPLAIN_LIMIT_MB", "1024"))


def _show(label: str, m: Measured) -> None:
    verdict = "within" if m.peak_mb <= LIMIT_MB else "OVER"
    print(f"  {label}: wall {m.wall:.1f} s, cpu {m.cpu:.1f} s, peak RSS {m.peak_mb:.0f} MB "
          f"({verdict} {LIMIT_MB} MB), exit {m.status}; load average "
          f"{os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip


def main() -> None:
    base = cache_dir()
    settings, data = _registry(base, PEOPLE)
    files = data / "files"
    files.mkdir(exist_ok=True)
    dump = files / ("fuite_ofii.csv" if EVERY == 1 else f"fuite_ofii-1in{EVERY}.csv")
    if not dump.exists():
        _write_files(settings, files, EVERY)
    _explanation_table(settings)
    env = {**os.environ, "VIGIE_DATA_DIR": str(data),
           "VIGIE_LEAK_MEMORY_LIMIT_MB": str(LIMIT_MB), "COLUMNS": "200"}  # fmt: skip
    print(f"{PEOPLE} people, dump {dump.name}, bound {LIMIT_MB} MB, load average "
          f"{os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
    _show("vigie leak prepare", timed([str(VIGIE), "leak", "prepare"], env))
    out = files / "explained.json"
    m = timed([str(VIGIE), "leak", "analyze", str(dump), "--explain", "--json", str(out)], env)
    _show("vigie leak analyze --explain --json", m)
    lines = _linked_lines(out)
    stored = _stored_id(out)
    print(f"  {len(lines)} rows explained, JSON report {out.stat().st_size / 1e6:.0f} MB, "
          f"stored as analysis {stored}", flush=True)  # fmt: skip
    for line in (lines[0], lines[len(lines) // 2], lines[-1]):
        said = files / "explain.out"
        # A bare wrapper keeps the command's JSON (timed() keeps only its figures).
        args = [str(VIGIE), "leak", "explain", str(stored), f"{dump.name}:{line}", "--json"]
        keep = (
            f"import subprocess; r = subprocess.run({args!r}, capture_output=True); "
            f"open({str(said)!r}, 'wb').write(r.stdout) if r.returncode == 0 "
            "else print(r.stdout[-500:], r.stderr[-500:])"
        )
        m = timed([sys.executable, "-c", keep], env)
        ref = json.loads(said.read_text())["ref"] if said.exists() else "?"
        _show(f"vigie leak explain {stored} {dump.name}:{line} --json (-> {ref})", m)
        said.unlink(missing_ok=True)
    m = timed([sys.executable, "-c", f"import json; json.load(open({str(out)!r}, 'rb'))"], env)
    _show("the former way's parse alone: json.load of the report with its explanations", m)
    out.unlink()


def _explanation_table(settings: Settings) -> None:
    """A registry cached before explanations were stored apart lacks their table (the
    schema is one migration until the first release): create it there."""
    from vigie.leaks.models import ExplanationBlock
    from vigie.store.engine import make_engine

    engine = make_engine(settings.resolved_database_url)
    ExplanationBlock.__table__.create(engine, checkfirst=True)  # type: ignore[attr-defined]
    engine.dispose()


def _linked_lines(report: Path) -> list[int]:
    """The explained lines, in order (read by a child would be fairer; this is the bench's
    own bookkeeping, outside every measured process)."""
    data = json.loads(report.read_bytes())
    return [int(e["line"]) for e in data["explanations"]]


def _stored_id(report: Path) -> int:
    with report.open("rb") as f:
        f.seek(max(report.stat().st_size - 200, 0))
        tail = f.read().decode()
    return int(tail.rsplit('"stored_id":', 1)[1].strip().rstrip("}").strip())
