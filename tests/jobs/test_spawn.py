"""The worker process `vigie serve` runs alongside its listeners.

`vigie serve` with its worker runs on SQLite only: that `vigie serve` starts the worker
and the worker runs a queued job owe nothing to the database (several workers claiming
jobs from one queue, on both databases, are tests/jobs/test_worker.py's; `vigie serve` on
PostgreSQL, tests/gateway/test_serve.py's). It starts three Python processes.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from tests.conftest import SQLITE_ONLY
from tests.gateway.serving import serving
from vigie.cli.app import app
from vigie.jobs import queue
from vigie.jobs.spawn import follow_parent, worker_alongside
from vigie.settings import Settings


def test_the_worker_alongside_runs_jobs_and_stops_gracefully(
    settings: Settings, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("VIGIE_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("VIGIE_JOBS_POLL_SECONDS", "0.1")
    with sessions.begin() as s:
        job_id = queue.enqueue(s, kind="audit.verify", params={}, actor="operator:test").id
    with worker_alongside() as process:
        assert process is not None
        deadline = time.monotonic() + 120
        while True:
            with sessions() as s:
                state = queue.get_job(s, job_id=job_id).state
            if state == "done":
                break
            assert process.poll() is None, "the worker died"
            assert time.monotonic() < deadline, "the worker never ran the job"
            time.sleep(0.1)
    assert process.returncode == 0  # stopped by SIGTERM, gracefully


def test_no_worker_alongside_when_disabled() -> None:
    with worker_alongside(enabled=False) as process:
        assert process is None


def test_a_worker_whose_parent_is_gone_stops() -> None:
    stopped = threading.Event()
    follow_parent(-1, stopped.set).join(10)  # -1 is nobody's parent: gone already
    assert stopped.is_set()


@SQLITE_ONLY
def test_vigie_serve_runs_a_worker_alongside_its_listener(
    settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with sessions.begin() as s:
        job_id = queue.enqueue(s, kind="audit.verify", params={}, actor="operator:test").id
    with serving(settings, tmp_path / "serve.log"):
        deadline = time.monotonic() + 120
        while True:
            with sessions() as s:
                if queue.get_job(s, job_id=job_id).state == "done":
                    break
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
    assert "one job worker" in (tmp_path / "serve.log").read_text()


def test_serve_offers_no_worker() -> None:
    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0 and "--no-worker" in result.output
