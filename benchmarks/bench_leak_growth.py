"""How leak triage grows with the registry: 2.1 million people, 10 million, and beyond.

For each size of ``BENCH_GROWTH_SIZES`` (default ``2100000,10000000``; 43,000,000 is the
issue's target), builds the registry once with ``vigie.synth`` (SQLite, cached under
``BENCH_LEAKS_DIR`` like the leaks benchmark's, the same registry as its; minutes to
hours, so never in ``make test``) — the resumable build (:mod:`vigie.synth.resumable`):
committed batch by batch, with progress and the time left, and a run stopped midway
resumes where it was — and a messy dump of one person in ten (``benchmarks/bench_leaks.py``'s
generator), then runs in their own processes, under ``/usr/bin/time -v`` and the bound
``VIGIE_LEAK_MEMORY_LIMIT_MB`` = ``BENCH_GROWTH_LIMIT_MB`` (default 4096):

1. ``vigie leak prepare`` from scratch (the registry read into the encrypted snapshot);
2. ``vigie leak analyze`` of the 10 % dump (warm).

It prints wall, CPU and peak RSS for each, and the growth ratio of each between
consecutive sizes against the ratio of sizes (linear growth: the same ratio). With
``BENCH_GROWTH_PHASES=1`` it then runs both again through the same functions in a
process of its own (``python -m benchmarks.bench_leak_growth prepare|analyze DUMP``)
that prints how long each phase took, to find the phase that grows faster than the
registry.

Usage: ``python -m benchmarks leak_growth``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

from benchmarks.bench_leak_memory import VIGIE, Measured, timed
from benchmarks.bench_leaks import SEED, _write_files, cache_dir
from vigie.audit.checkpoints import take
from vigie.secrets import ensure_secrets, load_secrets
from vigie.settings import Settings
from vigie.store.engine import make_engine, make_session_factory
from vigie.store.migrate import upgrade
from vigie.synth.load import synthesize

SIZES = [int(n) for n in os.environ.get("BENCH_GROWTH_SIZES", "2100000,10000000").split(",")]
LIMIT_MB = int(os.environ.get("BENCH_GROWTH_LIMIT_MB", "4096"))
EVERY = 10  # the dump holds one person in ten


class _Eta:
    """Prints the build's progress about every 2 %, with its rate and the time left."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.first: tuple[float, int] | None = None
        self.shown = -1

    def progress(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if self.first is None:  # a resumed build: the rate from where it resumed
            self.first = (now, done)
        step = 50 * done // max(total, 1)
        if step == self.shown:
            return
        self.shown = step
        t0, d0 = self.first
        rate = (done - d0) / max(now - t0, 1e-9)
        left = (total - done) / rate if rate else float("nan")
        print(f"  {done:>11,} / {total:,} people ({done / total:.0%}), {rate:,.0f} people/s, "
              f"about {left / 60:.0f} min left to load; load average "
              f"{os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip

    def phase(self, name: str) -> None:
        print(f"  {name} ({time.perf_counter() - self.started:.0f} s)", flush=True)


def _registry(base: Path, people: int) -> tuple[Settings, Path]:
    """The registry of ``people`` synthetic people under ``base`` (built or resumed)."""
    data = base / f"registry-{people}-{SEED}"
    settings = Settings(data_dir=data)
    if (data / "ready").exists():
        return settings, data
    data.mkdir(parents=True, exist_ok=True)
    ensure_secrets(settings.resolved_secrets_dir)
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    eta = _Eta()
    cpu = time.process_time()
    report = synthesize(engine, people=people, seed=SEED, resumable=True,
                        progress=eta.progress, phase=eta.phase)  # fmt: skip
    # Anchor what synth appended, as `vigie synth` does when it ends: the evidence gate
    # of attribution refuses an unanchored trail.
    with make_session_factory(engine).begin() as session:
        take(session, signing_key=load_secrets(settings.resolved_secrets_dir).signing_key,
             actor="system:bench")  # fmt: skip
    engine.dispose()
    size = sum(f.stat().st_size for f in data.glob("vigie.db*"))
    print(f"registry built: {report.people:,} people, {report.versions:,} superseded "
          f"versions, {report.canaries:,} canaries in {report.seconds:.0f} s (this run), "
          f"{time.process_time() - cpu:.0f} s CPU; {size / 1e9:.2f} GB, "
          f"{size / report.people:.0f} bytes per person", flush=True)  # fmt: skip
    (data / "ready").write_text("ok")
    return settings, data


def main() -> None:
    base = cache_dir()
    print(f"bound: VIGIE_LEAK_MEMORY_LIMIT_MB={LIMIT_MB}; load average {os.getloadavg()[0]:.1f}")
    measured: list[tuple[int, Measured, Measured]] = []
    for people in SIZES:
        started = time.perf_counter()
        settings, data = _registry(base, people)
        files = data / "files"
        files.mkdir(exist_ok=True)
        dump = files / f"fuite_ofii-1in{EVERY}.csv"
        if not dump.exists():
            _write_files(settings, files, every=EVERY)
        print(f"{people} people: registry and dump ready in {time.perf_counter() - started:.0f} s",
              flush=True)  # fmt: skip
        env = {
            **os.environ,
            "VIGIE_DATA_DIR": str(data),
            "VIGIE_LEAK_MEMORY_LIMIT_MB": str(LIMIT_MB),
            "COLUMNS": "200",
        }
        shutil.rmtree(data / "leak-cache", ignore_errors=True)
        prepare = timed([str(VIGIE), "leak", "prepare"], env)
        analyze = timed([str(VIGIE), "leak", "analyze", str(dump)], env)
        measured.append((people, prepare, analyze))
        if os.environ.get("BENCH_GROWTH_PHASES") == "1":
            shutil.rmtree(data / "leak-cache", ignore_errors=True)
            for what in ("prepare", "analyze"):
                print(f"{people:>10} people  {what} phases (s): {_phases(what, dump, env)}",
                      flush=True)  # fmt: skip
        for name, m in (("prepare", prepare), ("analyze 10 %", analyze)):
            print(f"{people:>10} people  {name:<13} wall {m.wall:7.1f} s  cpu {m.cpu:7.1f} s  "
                  f"peak RSS {m.peak_mb:6.0f} MB (bound {LIMIT_MB} MB)"
                  f"{'' if m.status == 0 else f'  EXIT {m.status}'}", flush=True)  # fmt: skip
    for (n0, p0, a0), (n1, p1, a1) in pairwise(measured):
        print(f"{n0} -> {n1} people (x{n1 / n0:.2f}): prepare wall x{p1.wall / p0.wall:.2f} "
              f"cpu x{p1.cpu / p0.cpu:.2f} RSS x{p1.peak_mb / p0.peak_mb:.2f}; analyze wall "
              f"x{a1.wall / a0.wall:.2f} cpu x{a1.cpu / a0.cpu:.2f} "
              f"RSS x{a1.peak_mb / a0.peak_mb:.2f}")  # fmt: skip


def _phases(what: str, dump: Path, env: dict[str, str]) -> str:
    """The phases of ``prepare`` or a warm ``analyze``, timed in their own process."""
    args = [sys.executable, "-m", "benchmarks.bench_leak_growth", what, str(dump)]
    run = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if run.returncode:
        return f"failed: {run.stderr[-1000:]}"
    return run.stdout.strip().splitlines()[-1]


def _run_phases(what: str, dump: Path) -> None:
    """Run ``what`` on the instance of ``VIGIE_DATA_DIR``; print its phases' seconds."""
    from vigie.leaks.analyze import analyze
    from vigie.leaks.snapshot import prepare

    settings = Settings()
    secrets = load_secrets(settings.resolved_secrets_dir)
    engine = make_engine(settings.resolved_database_url)
    stamps: list[tuple[str, float]] = []

    def step(message: str) -> None:
        if ":" not in message:  # a new phase, not its progress
            stamps.append((message, time.perf_counter()))

    started = time.perf_counter()
    if what == "prepare":
        with engine.connect() as conn:
            prepare(conn, data_dir=settings.data_dir, secrets=secrets,
                    limit_mb=settings.leak_memory_limit_mb, progress=step)  # fmt: skip
        ends = [t for _n, t in stamps[1:]] + [time.perf_counter()]
        out = {n: round(end - t, 1) for (n, t), end in zip(stamps, ends, strict=True)}
    else:
        report = analyze(engine, paths=[dump], secrets=secrets, settings=settings, progress=step)
        out = dict(report.timings)
    out["total"] = round(time.perf_counter() - started, 1)
    engine.dispose()
    print(json.dumps(out))


if __name__ == "__main__":
    _run_phases(sys.argv[1], Path(sys.argv[2]))
