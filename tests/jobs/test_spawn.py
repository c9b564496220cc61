"""The worker process `vigie serve` runs alongside its listeners."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy.orm import Session, sessionmaker

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
