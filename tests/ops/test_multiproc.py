"""Several workers, one set of metrics: values written by each process, merged at scrape."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from vigie.ops.multiproc import VARIABLE, prepare
from vigie.settings import Settings

WORKER = """
from vigie.ops import metrics
metrics.REQUESTS.labels("api", "/api/v1/subjects/{pseudonym}", "GET", "200").inc(%d)
metrics.BUDGET_USED.labels("lingua").set(%f)
metrics.CHECKPOINT_TIME.set(%d)
"""
SCRAPE = """
import sys
from vigie.ops import metrics
assert metrics.multiprocess()
sys.stdout.write(metrics.exposition()[0].decode())
"""


def _run(code: str, directory: Path) -> str:
    env = {**os.environ, VARIABLE: str(directory)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def _sample(text: str, prefix: str) -> float:
    (line,) = [x for x in text.splitlines() if x.startswith(prefix)]
    return float(line.rsplit(" ", 1)[1])


def test_workers_values_are_merged_at_scrape(tmp_path: Path) -> None:
    _run(WORKER % (3, 0.25, 1_700_000_000), tmp_path)
    _run(WORKER % (4, 0.5, 1_700_000_100), tmp_path)
    text = _run(SCRAPE, tmp_path)
    assert _sample(text, "vigie_http_requests_total{") == 7  # counters add up
    assert _sample(text, 'vigie_gateway_budget_used_ratio{processor="lingua"}') == 0.5  # latest
    assert _sample(text, "vigie_audit_last_checkpoint_timestamp_seconds") == 1_700_000_100  # max


def test_prepare_names_and_empties_the_directory_for_several_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VARIABLE, "unset below")  # so that the test's end restores it
    monkeypatch.delenv(VARIABLE)  # prepare() sets it, as vigie serve does for its workers
    settings = Settings(data_dir=tmp_path / "data")
    assert prepare(settings, workers=1) is None and VARIABLE not in os.environ
    directory = prepare(settings, workers=4)
    assert directory == (tmp_path / "data" / "metrics").resolve()
    assert os.environ[VARIABLE] == str(directory)
    (directory / "counter_123.db").write_bytes(b"stale values of the last run")
    assert prepare(settings, workers=4) == directory
    assert list(directory.iterdir()) == []


def test_prepare_uses_the_operators_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = tmp_path / "own"
    monkeypatch.setenv(VARIABLE, str(own))
    assert prepare(Settings(data_dir=tmp_path / "data"), workers=1) == own
    assert own.is_dir()
