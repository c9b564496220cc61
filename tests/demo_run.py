"""One run of ``vigie demo`` for the whole test session, shared by the tests that only read
what a demo run leaves: its terminal output, its log, its instance and its files.

Registered as a plugin by ``tests/conftest.py``. The run is the CLI's, in a process of its
own (the smallest population with which every step still runs), at ``DEBUG`` with
``VIGIE_LOG_FILE`` set, so that the log tests see every line any part of Vigie writes
about people. The run is made once per session, whichever xdist worker asks first (a file
lock in the session's base directory); the tests that use :func:`demo_run` also share the
``xdist_group`` "demo".
A test that changes how the demo runs (another population, containment off) runs its own.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

PEOPLE = 1000  # the demo's smallest population: every step still runs
DAYS = 3


@dataclass(frozen=True)
class DemoRun:
    """What ``vigie demo --out OUT --people 1000 --days 3`` left."""

    out: Path
    log_file: Path
    returncode: int
    stdout: str
    stderr: str

    def check(self) -> None:
        """Fail (with the end of its standard error) unless the run succeeded."""
        assert self.returncode == 0, self.stderr[-2000:]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "demo_run" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("demo"))


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """The session's demo run, made once for all its processes: the first test that asks
    runs it under a file lock; another xdist worker waits on the lock and reads what the
    run left. (``--dist loadgroup`` keeps the "demo" group on one worker again, through
    :mod:`tests.xdist_groups`; the lock stays for ``--dist load`` and any other split.)"""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # the session's
    root = shared / "demo-run"
    with (shared / "demo-run.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        result = root / "result.json"
        if not result.exists():
            result.write_text(json.dumps(_run(root)), encoding="utf-8")
        done = json.loads(result.read_text(encoding="utf-8"))
    return DemoRun(out=root / "demo", log_file=root / "vigie.log", **done)


def _run(root: Path) -> dict[str, object]:
    root.mkdir(exist_ok=True)
    out = root / "demo"
    log_file = root / "vigie.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIE_")} | {
        "VIGIE_LOG_LEVEL": "DEBUG",
        "VIGIE_LOG_FILE": str(log_file),
        "COLUMNS": "160",
    }
    done = subprocess.run(
        [str(Path(sys.executable).parent / "vigie"), "demo", "--out", str(out),
         "--people", str(PEOPLE), "--days", str(DAYS)],
        env=env, cwd=root, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    return {"returncode": done.returncode, "stdout": done.stdout, "stderr": done.stderr}
