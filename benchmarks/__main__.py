"""Run the benchmarks: every ``benchmarks/bench_*.py`` module's ``main()``, or those named.

Usage: ``python -m benchmarks [NAME ...]`` where NAME is e.g. ``synth`` for
``bench_synth.py``. Each benchmark prints its figures and the ratios against its peers;
record them in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = argv or sorted(p.stem.removeprefix("bench_") for p in here.glob("bench_*.py"))
    for name in names:
        print(f"=== benchmark: {name} ===", flush=True)
        module = importlib.import_module(f"benchmarks.bench_{name}")
        module.main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
