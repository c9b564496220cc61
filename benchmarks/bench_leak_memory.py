"""Leak triage within its memory bound: peak RSS of `vigie leak prepare` and `analyze`.

For each registry size of ``BENCH_MEMORY_SIZES`` (default ``100000,500000``; add
``2100000`` for OFII's scale), reuses or builds the leaks benchmark's registry and messy
dump (``benchmarks/bench_leaks.py``, cached under ``BENCH_LEAKS_DIR``), then runs, each in
its own process as a DPO would, with ``VIGIE_LEAK_MEMORY_LIMIT_MB`` set to
``BENCH_MEMORY_LIMIT_MB`` (default 1024):

1. ``vigie leak prepare`` from scratch (the registry read from SQLite into the encrypted
   snapshot);
2. ``vigie leak analyze DUMP`` (warm: the snapshot reused), the report stored encrypted;
3. ``vigie leak analyze DUMP --explain --json FILE``: the same, with why each row was
   linked (every linked row's terms, kept in the stored report and the JSON file).

Each is timed by ``/usr/bin/time -v``: wall, CPU (user + system) and peak RSS, printed
against the bound.

Usage: ``python -m benchmarks leak_memory``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks.bench_leaks import _registry, _write_files, cache_dir

SIZES = [int(n) for n in os.environ.get("BENCH_MEMORY_SIZES", "100000,500000").split(",")]
LIMIT_MB = int(os.environ.get("BENCH_MEMORY_LIMIT_MB", "1024"))
VIGIE = Path(sys.executable).with_name("vigie")


@dataclass(frozen=True)
class Measured:
    """What ``/usr/bin/time -v`` says of one process."""

    wall: float
    cpu: float
    peak_mb: float
    status: int


def timed(args: list[str], env: dict[str, str]) -> Measured:
    """Run ``args`` under ``/usr/bin/time -v``; its wall, CPU and peak RSS."""
    run = subprocess.run(
        ["/usr/bin/time", "-v", *args], env=env, capture_output=True, text=True, check=False
    )
    report = run.stderr

    def field(name: str) -> str:
        found = re.search(rf"{re.escape(name)}: (.+)", report)
        if not found:
            raise RuntimeError(f"no {name!r} in /usr/bin/time's output:\n{report[-2000:]}")
        return found.group(1).strip()

    clock = [float(p) for p in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")]
    wall = sum(v * 60 ** (len(clock) - 1 - i) for i, v in enumerate(clock))
    cpu = float(field("User time (seconds)")) + float(field("System time (seconds)"))
    peak = int(field("Maximum resident set size (kbytes)")) / 1024
    if run.returncode:
        print(run.stdout[-2000:], report[-2000:])
    return Measured(wall, cpu, peak, run.returncode)


def main() -> None:
    base = cache_dir()
    print(f"bound: VIGIE_LEAK_MEMORY_LIMIT_MB={LIMIT_MB}; load average {os.getloadavg()[0]:.1f}")
    for people in SIZES:
        settings, data = _registry(base, people)
        files = data / "files"
        files.mkdir(exist_ok=True)
        messy = files / "fuite_ofii.csv"
        if not messy.exists():
            _write_files(settings, files)
        env = {
            **os.environ,
            "VIGIE_DATA_DIR": str(data),
            "VIGIE_LEAK_MEMORY_LIMIT_MB": str(LIMIT_MB),
            "COLUMNS": "200",
        }
        shutil.rmtree(data / "leak-cache", ignore_errors=True)
        prepare = timed([str(VIGIE), "leak", "prepare"], env)
        analyze = timed([str(VIGIE), "leak", "analyze", str(messy)], env)
        report = data / "explained.json"
        explained = timed(
            [str(VIGIE), "leak", "analyze", str(messy), "--explain", "--json", str(report)], env
        )
        report.unlink(missing_ok=True)
        for name, m in (("prepare", prepare), ("analyze", analyze), ("--explain", explained)):
            verdict = "within" if m.peak_mb <= LIMIT_MB else "OVER"
            print(
                f"{people:>9} people  vigie leak {name:<8} wall {m.wall:7.1f} s  "
                f"cpu {m.cpu:7.1f} s  peak RSS {m.peak_mb:7.0f} MB ({verdict} {LIMIT_MB} MB)"
                f"{'' if m.status == 0 else f'  EXIT {m.status}'}",
                flush=True,
            )
