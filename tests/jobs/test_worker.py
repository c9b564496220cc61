"""The worker on a real store: runs, progress, failures, cancel, stop, dead workers,
and several workers at once (processes) never running one job twice."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from tests.jobs import job_kinds  # importable by spawned children
from vigie.jobs import queue
from vigie.jobs.models import JobState
from vigie.jobs.worker import Worker
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings

SPAWN = multiprocessing.get_context("spawn")


def _enqueue(sessions: sessionmaker[Session], kind: str, **params: object) -> int:
    with sessions.begin() as s:
        return queue.enqueue(s, kind=kind, params=dict(params), actor="operator:test").id


def _job(sessions: sessionmaker[Session], job_id: int) -> queue.Job:
    with sessions() as s:
        return queue.get_job(s, job_id=job_id)


def _wait_for(sessions: sessionmaker[Session], job_id: int, phase: str, child: object) -> None:
    """Until the job reports ``phase`` (the child must still be alive)."""
    deadline = time.monotonic() + 120
    while _job(sessions, job_id).phase != phase:
        assert child.is_alive(), "the worker died"  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "the worker never started the job"
        time.sleep(0.05)


def test_a_job_runs_to_done_with_its_progress_live(
    worker: Worker, sessions: sessionmaker[Session]
) -> None:
    job_id = _enqueue(sessions, "test.steps", n=7)
    assert worker.run(once=True) == 1
    job = _job(sessions, job_id)
    assert job.state == JobState.DONE
    # What another session saw while the job ran: its first step, committed.
    assert job.result == {"seen": ["running", "first", 1, 2], "echo": 7}
    assert (job.phase, job.done, job.total) == ("second", 2, 2)
    assert job.worker_id == worker.worker_id and job.attempts == 1
    assert job.started_at is not None and job.finished_at is not None
    assert worker.run(once=True) == 0  # nothing left


def test_a_vigie_error_fails_the_job_with_its_message(
    worker: Worker, sessions: sessionmaker[Session]
) -> None:
    job_id = _enqueue(sessions, "test.refuse")
    worker.run(once=True)
    job = _job(sessions, job_id)
    assert job.state == JobState.FAILED
    assert job.error == "leak.csv line 3: not a CSV row"


def test_a_library_error_is_kept_by_class_and_place_only(
    worker: Worker, sessions: sessionmaker[Session], caplog: object
) -> None:
    job_id = _enqueue(sessions, "test.crash")
    worker.run(once=True)
    job = _job(sessions, job_id)
    assert job.state == JobState.FAILED
    assert job.error is not None and "ValueError at job_kinds.py:" in job.error
    assert job_kinds.LEAKED_VALUE not in job.error
    assert job_kinds.LEAKED_VALUE not in caplog.text  # type: ignore[attr-defined]


def test_a_result_that_cannot_be_stored_fails_the_job_not_the_worker(
    worker: Worker, sessions: sessionmaker[Session]
) -> None:
    bad = _enqueue(sessions, "test.unstorable")
    good = _enqueue(sessions, "test.steps")
    assert worker.run(once=True) == 2
    job = _job(sessions, bad)
    assert job.state == JobState.FAILED and "internal error (TypeError" in (job.error or "")
    assert _job(sessions, good).state == JobState.DONE


def test_an_unknown_kind_fails(worker: Worker, sessions: sessionmaker[Session]) -> None:
    job_id = _enqueue(sessions, "test.nonesuch")
    worker.run(once=True)
    job = _job(sessions, job_id)
    assert job.state == JobState.FAILED and "unknown job kind" in (job.error or "")


def test_a_running_job_cancelled_stops_at_its_next_report(
    worker: Worker, sessions: sessionmaker[Session]
) -> None:
    job_id = _enqueue(sessions, "test.self_cancel")
    worker.run(once=True)
    job = _job(sessions, job_id)
    assert job.state == JobState.CANCELLED
    assert job.result is None and job.phase == "step 2"  # the report that saw the cancel


def test_two_workers_never_run_one_job_twice(
    settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    log = tmp_path / "runs.log"
    ids = [_enqueue(sessions, "test.record", log=str(log)) for _ in range(30)]
    start = SPAWN.Event()
    url, data = settings.resolved_database_url, str(settings.data_dir)
    children = [
        SPAWN.Process(target=job_kinds.run_worker, args=(url, data, True, start)) for _ in range(3)
    ]
    for child in children:
        child.start()
    start.set()
    for child in children:
        child.join(180)
    assert [c.exitcode for c in children] == [0, 0, 0]
    runs = [int(line) for line in log.read_text().split()]
    assert sorted(runs) == ids  # each job ran exactly once
    with sessions() as s:
        jobs = [queue.get_job(s, job_id=i) for i in ids]
    assert {j.state for j in jobs} == {"done"} and {j.attempts for j in jobs} == {1}


def test_a_killed_workers_job_is_queued_again_and_finished_by_another(
    settings: Settings, worker: Worker, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    release = tmp_path / "release"
    job_id = _enqueue(sessions, "test.block", until=str(release))
    url, data = settings.resolved_database_url, str(settings.data_dir)
    child = SPAWN.Process(target=job_kinds.run_worker, args=(url, data, False))
    child.start()
    _wait_for(sessions, job_id, "started", child)
    os.kill(child.pid or 0, signal.SIGKILL)
    child.join(30)
    dead = _job(sessions, job_id)
    assert dead.state == JobState.RUNNING and dead.attempts == 1
    later = dead.heartbeat_at + timedelta(seconds=settings.jobs_stale_after_seconds + 1)  # type: ignore[operator]
    with sessions.begin() as s:
        recovered = queue.reap(
            s, stale_after=settings.jobs_stale_after_seconds, max_attempts=3, now=later
        )
    assert recovered == {job_id: "queued"}
    assert (_job(sessions, job_id).state, _job(sessions, job_id).worker_id) == ("queued", None)
    release.touch()
    assert worker.run(once=True) == 1
    job = _job(sessions, job_id)
    assert (job.state, job.attempts, job.result) == ("done", 2, {"released": True})
    assert job.worker_id == worker.worker_id


def test_sigterm_puts_the_running_job_back_and_the_worker_exits(
    settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    job_id = _enqueue(sessions, "test.block", until=str(tmp_path / "never"))
    url, data = settings.resolved_database_url, str(settings.data_dir)
    child = SPAWN.Process(target=job_kinds.run_worker, args=(url, data, False))
    child.start()
    _wait_for(sessions, job_id, "started", child)
    os.kill(child.pid or 0, signal.SIGTERM)
    child.join(60)
    assert child.exitcode == 0
    job = _job(sessions, job_id)
    assert (job.state, job.attempts, job.worker_id) == ("queued", 0, None)


def test_a_worker_outlives_an_unreachable_store(
    settings: Settings, secrets: InstanceSecrets, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gone = settings.model_copy(
        update={"database_url": f"sqlite:///{tmp_path / 'no-such-dir' / 'vigie.db'}"}
    )
    worker = Worker(settings=gone, secrets=secrets, kinds=job_kinds.KINDS)
    with pytest.raises(OperationalError):
        worker.run(once=True)  # cron: say it
    caplog.set_level(logging.ERROR, logger="vigie.jobs.worker")
    running = threading.Thread(target=worker.run)
    running.start()
    deadline = time.monotonic() + 60
    while "the store cannot be reached (OperationalError); retrying" not in caplog.text:
        assert running.is_alive() and time.monotonic() < deadline
        time.sleep(0.05)
    worker.stop()
    running.join(60)
    assert not running.is_alive()
    worker.close()


def test_the_worker_publishes_pending_and_finished_jobs(
    worker: Worker, sessions: sessionmaker[Session]
) -> None:
    from prometheus_client import REGISTRY

    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    done_before = value("vigie_jobs_finished_total", kind="test.steps", outcome="done")
    failed_before = value("vigie_jobs_finished_total", kind="test.refuse", outcome="failed")
    _enqueue(sessions, "test.steps", n=1)
    _enqueue(sessions, "test.steps", n=2)
    _enqueue(sessions, "test.refuse")
    worker.run_next()  # counted before it claims: three wait
    assert value("vigie_jobs_pending", kind="test.steps") == 2
    assert value("vigie_jobs_pending", kind="test.refuse") == 1
    assert worker.run(once=True) == 2
    worker.run_next()  # an idle poll counts again: nothing waits
    assert value("vigie_jobs_pending", kind="test.steps") == 0
    assert value("vigie_jobs_pending", kind="test.refuse") == 0
    assert value("vigie_jobs_finished_total", kind="test.steps", outcome="done") == done_before + 2
    assert (
        value("vigie_jobs_finished_total", kind="test.refuse", outcome="failed")
        == failed_before + 1
    )
