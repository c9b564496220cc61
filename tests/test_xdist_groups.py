"""``--dist loadgroup`` keeps an ``xdist_group`` on one worker (:mod:`tests.xdist_groups`)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

GROUPED = """
import pytest

pytestmark = pytest.mark.xdist_group("together")

@pytest.mark.parametrize("n", range(6))
def test_grouped(n):
    pass
"""
LOOSE = """
import pytest

@pytest.mark.parametrize("n", range(6))
def test_loose(n):
    pass
"""


def test_a_group_runs_on_one_worker(tmp_path: Path) -> None:
    """Six grouped tests beside six loose ones, on two workers: the grouped tests all on
    one worker, under ids that carry their group (what xdist's scheduler reads)."""
    (tmp_path / "conftest.py").write_text('pytest_plugins = ("tests.xdist_groups",)\n')
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    (tmp_path / "test_loose.py").write_text(LOOSE)
    # Only xdist among the installed plugins: the others' imports (schemathesis, faker,
    # hypothesis) would cost each of the three processes seconds for nothing.
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path]),
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "xdist", "-n", "2", "--dist", "loadgroup", "-v",
         "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    ran = re.findall(r"\[(gw\d)\] \[\s*\d+%\] PASSED (\S+)", run.stdout)
    grouped = {worker for worker, test in ran if "test_grouped" in test}
    assert len([t for _, t in ran if "test_grouped" in t]) == 6, run.stdout
    assert len(grouped) == 1, run.stdout
    assert all(t.endswith("@together") for _, t in ran if "test_grouped" in t), run.stdout
