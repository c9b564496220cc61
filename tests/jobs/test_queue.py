"""The queue on a real store: enqueue, claim, heartbeat, reaping, cancel, depth."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from vigie.audit.actions import Action
from vigie.audit.models import AuditEvent
from vigie.errors import InvalidInput, NotFound
from vigie.jobs import queue
from vigie.jobs.models import JobState
from vigie.store.base import utcnow


def _queued(sessions: sessionmaker[Session], n: int = 1) -> list[int]:
    with sessions.begin() as s:
        return [
            queue.enqueue(s, kind="test.steps", params={"n": i}, actor="operator:test").id
            for i in range(n)
        ]


def test_claim_takes_the_oldest_queued_job_once(sessions: sessionmaker[Session]) -> None:
    first, second = _queued(sessions, 2)
    with sessions.begin() as s:
        job = queue.claim(s, worker_id="w1")
        assert job is not None and job.id == first
        assert (job.state, job.worker_id, job.attempts) == ("running", "w1", 1)
        assert job.started_at is not None and job.heartbeat_at is not None
    with sessions.begin() as s:
        job = queue.claim(s, worker_id="w2")
        assert job is not None and job.id == second
    with sessions.begin() as s:
        assert queue.claim(s, worker_id="w3") is None


def test_params_hold_ids_and_paths_only(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s, pytest.raises(InvalidInput, match="person"):
        queue.enqueue(
            s, kind="test.steps", params={"person": {"email": "a@example.org"}}, actor="x"
        )


def test_a_pushed_job_is_claimed_like_an_enqueued_one(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s, pytest.raises(InvalidInput, match="person"):
        queue.push(s, kind="test.steps", params={"person": {"a": 1}}, actor="x")
    with sessions.begin() as s:
        queue.push(s, kind="test.steps", params={"n": 3}, actor="operator:test")
    with sessions.begin() as s:
        job = queue.claim(s, worker_id="w1")
        assert job is not None
        assert (job.kind, job.params, job.state, job.attempts) == (
            "test.steps",
            {"n": 3},
            "running",
            1,
        )
        assert job.created_at is not None


def test_progress_is_written_and_only_by_the_claiming_worker(
    sessions: sessionmaker[Session],
) -> None:
    (job_id,) = _queued(sessions)
    with sessions.begin() as s:
        queue.claim(s, worker_id="w1")
    with sessions.begin() as s:
        cancel = queue.beat(s, job_id=job_id, worker_id="w1", progress=("linking", 3, 10))
        assert cancel is False
    with sessions() as s:
        job = queue.get_job(s, job_id=job_id)
        assert (job.phase, job.done, job.total) == ("linking", 3, 10)
        assert job.progress_at is not None
    with sessions.begin() as s, pytest.raises(queue.LeaseLost):
        queue.beat(s, job_id=job_id, worker_id="w2")
    with sessions.begin() as s, pytest.raises(queue.LeaseLost):
        queue.finish(s, job_id=job_id, worker_id="w2", result={})


def test_a_stale_job_is_queued_again_then_failed_after_max_attempts(
    sessions: sessionmaker[Session],
) -> None:
    (job_id,) = _queued(sessions)
    now = utcnow()
    for attempt in (1, 2):
        with sessions.begin() as s:
            job = queue.claim(s, worker_id=f"dead{attempt}", now=now)
            assert job is not None and job.attempts == attempt
        with sessions.begin() as s:  # fresh heartbeat: nothing to recover
            assert queue.reap(s, stale_after=60, max_attempts=2, now=now) == {}
        now += timedelta(seconds=61)
        with sessions.begin() as s:
            state = "queued" if attempt < 2 else "failed"
            assert queue.reap(s, stale_after=60, max_attempts=2, now=now) == {job_id: state}
    with sessions() as s:
        job = queue.get_job(s, job_id=job_id)
        assert job.state == JobState.FAILED and job.attempts == 2
        assert job.error is not None and "stopped answering 2 time(s)" in job.error
        assert job.finished_at == now


def test_the_old_worker_of_a_reaped_job_cannot_touch_it(sessions: sessionmaker[Session]) -> None:
    (job_id,) = _queued(sessions)
    now = utcnow()
    with sessions.begin() as s:
        queue.claim(s, worker_id="stalled", now=now)
    with sessions.begin() as s:
        queue.reap(s, stale_after=60, max_attempts=3, now=now + timedelta(seconds=61))
    with sessions.begin() as s:
        job = queue.claim(s, worker_id="fresh")
        assert job is not None and job.id == job_id
    with sessions.begin() as s, pytest.raises(queue.LeaseLost):
        queue.beat(s, job_id=job_id, worker_id="stalled", progress=("late", None, None))
    with sessions() as s:
        assert queue.get_job(s, job_id=job_id).worker_id == "fresh"


def test_cancel_a_queued_job_at_once_and_a_running_one_by_request(
    sessions: sessionmaker[Session],
) -> None:
    queued, running = _queued(sessions, 2)
    with sessions.begin() as s:
        queue.claim(s, worker_id="w1")  # takes `queued`, the oldest
        queue.cancel(s, job_id=queued, actor="operator:dpo")
    with sessions.begin() as s:
        job = queue.cancel(s, job_id=running, actor="operator:dpo")
        assert job.state == JobState.CANCELLED and job.finished_at is not None
    with sessions.begin() as s:
        job = queue.get_job(s, job_id=queued)
        assert job.state == JobState.RUNNING and job.cancel_requested_at is not None
        assert queue.beat(s, job_id=queued, worker_id="w1") is True
        queue.acknowledge_cancel(s, job_id=queued, worker_id="w1")
    with sessions.begin() as s:
        assert queue.get_job(s, job_id=queued).state == JobState.CANCELLED
        with pytest.raises(InvalidInput, match="already cancelled"):
            queue.cancel(s, job_id=queued, actor="operator:dpo")
        with pytest.raises(NotFound):
            queue.cancel(s, job_id=999, actor="operator:dpo")
    with sessions() as s:
        events = s.scalars(
            select(AuditEvent).where(AuditEvent.action == Action.JOB_CANCEL.value)
        ).all()
    assert [(e.actor, json.loads(e.detail or "{}")) for e in events] == [
        ("operator:dpo", {"job_id": queued, "kind": "test.steps", "was": "running"}),
        ("operator:dpo", {"job_id": running, "kind": "test.steps", "was": "queued"}),
    ]


def test_a_stale_job_asked_to_cancel_is_cancelled_not_retried(
    sessions: sessionmaker[Session],
) -> None:
    (job_id,) = _queued(sessions)
    now = utcnow()
    with sessions.begin() as s:
        queue.claim(s, worker_id="dead", now=now)
        queue.cancel(s, job_id=job_id, now=now, actor="operator:dpo")
    with sessions.begin() as s:
        found = queue.reap(s, stale_after=60, max_attempts=3, now=now + timedelta(seconds=61))
        assert found == {job_id: "cancelled"}


def test_release_puts_the_job_back_without_counting_the_run(
    sessions: sessionmaker[Session],
) -> None:
    (job_id,) = _queued(sessions)
    with sessions.begin() as s:
        queue.claim(s, worker_id="w1")
    with sessions.begin() as s:
        queue.release(s, job_id=job_id, worker_id="w1")
    with sessions() as s:
        job = queue.get_job(s, job_id=job_id)
        assert (job.state, job.attempts, job.worker_id) == ("queued", 0, None)


def test_queue_depth_counts_every_state(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        assert queue.queue_depth(s) == dict.fromkeys(
            ("queued", "running", "done", "failed", "cancelled"), 0
        )
    ids = _queued(sessions, 4)
    with sessions.begin() as s:
        queue.claim(s, worker_id="w1")
        queue.cancel(s, job_id=ids[3], actor="operator:dpo")
    with sessions() as s:
        depth = queue.queue_depth(s)
    assert depth == {"queued": 2, "running": 1, "done": 0, "failed": 0, "cancelled": 1}


def test_a_worker_sees_queued_and_stale_jobs(sessions: sessionmaker[Session]) -> None:
    now = utcnow()
    with sessions() as s:
        assert not queue.has_queued(s) and not queue.has_stale(s, stale_after=60, now=now)
    _queued(sessions)
    with sessions() as s:
        assert queue.has_queued(s)
    with sessions.begin() as s:
        queue.claim(s, worker_id="w1", now=now)
    with sessions() as s:
        assert not queue.has_queued(s)
        assert not queue.has_stale(s, stale_after=60, now=now)  # running, alive
        assert queue.has_stale(s, stale_after=60, now=now + timedelta(seconds=61))


def test_the_stale_bound_must_outlast_two_heartbeats() -> None:
    from pydantic import ValidationError

    from vigie.settings import isolated_settings

    with pytest.raises(ValidationError, match="STALE_AFTER"):
        isolated_settings(jobs_heartbeat_seconds=30, jobs_stale_after_seconds=60)
