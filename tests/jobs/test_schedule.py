"""The schedule: several workers find the same periodic jobs due, exactly one queues each."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from tests.cli.conftest import Invoke
from vigie.audit.actions import Action
from vigie.audit.models import AuditEvent
from vigie.audit.trail import append
from vigie.jobs import periodic
from vigie.jobs.kinds import KINDS
from vigie.jobs.models import Job, JobSchedule
from vigie.jobs.schedule import SCHEDULE, enqueue_due
from vigie.jobs.worker import Worker
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings
from vigie.store.base import utcnow

WORKERS = 4


def _configured(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"siem_url": f"file://{tmp_path / 'siem.jsonl'}"})


def _jobs(sessions: sessionmaker[Session]) -> list[Job]:
    with sessions() as s:
        return list(s.scalars(select(Job).order_by(Job.id)))


def _race(workers: list[Worker]) -> list[list[Job]]:
    """Every worker asks for the due jobs at the same moment."""
    barrier = threading.Barrier(len(workers))
    results: list[list[Job]] = [[] for _ in workers]
    errors: list[BaseException] = []

    def go(i: int) -> None:
        try:
            barrier.wait()
            results[i] = workers[i].enqueue_scheduled()
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(workers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


def test_exactly_one_worker_queues_each_due_job(
    settings: Settings,
    secrets: InstanceSecrets,
    engine: Engine,
    sessions: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    configured = _configured(settings, tmp_path)
    with sessions.begin() as s:  # an operator action the SIEM is owed
        append(s, action=Action.SUBJECT_EXPORT, actor="operator:dpo", detail={"count": 0})
    workers = [
        Worker(settings=configured, secrets=secrets, engine=engine, worker_id=f"w{i}")
        for i in range(WORKERS)
    ]
    try:
        results = _race(workers)
        queued = [job.kind for batch in results for job in batch]
        assert sorted(queued) == sorted(p.kind for p in SCHEDULE)  # each once, among them all
        assert sorted(j.kind for j in _jobs(sessions)) == sorted(queued)
        assert _race(workers) == [[]] * WORKERS  # not due again before its interval

        # The queue hands each to one worker; they do what their commands do.
        assert sum(w.run(once=True) for w in workers) == len(SCHEDULE)
        jobs = _jobs(sessions)
        assert {j.kind: j.state for j in jobs} == {p.kind: "done" for p in SCHEDULE}
        pushed = next(j for j in jobs if j.kind == periodic.SIEM_PUSH)
        assert pushed.result == {"sent": {f"file://{tmp_path / 'siem.jsonl'}": 1}}
        assert "subject:export" in (tmp_path / "siem.jsonl").read_text()
        with sessions() as s:
            purges = s.scalars(select(AuditEvent).where(AuditEvent.action == "retention:purge"))
            assert [e.actor for e in purges] == ["system:scheduler"]

        # A period later, again exactly one of each, whoever asks.
        later = utcnow() + timedelta(days=2)
        barrier = threading.Barrier(WORKERS)
        won: list[int] = []

        def go(i: int) -> None:
            barrier.wait()
            with sessions.begin() as session:
                jobs = enqueue_due(
                    session, settings=configured, worker_id=f"w{i}", kinds=KINDS, now=later
                )
            won.extend(j.id for j in jobs)

        threads = [threading.Thread(target=go, args=(i,)) for i in range(WORKERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(won) == len(set(won)) == len(SCHEDULE)
    finally:
        for w in workers:
            w.close()


def test_a_job_still_running_is_not_queued_again_and_zero_turns_it_off(
    settings: Settings, secrets: InstanceSecrets, sessions: sessionmaker[Session]
) -> None:
    with sessions.begin() as session:
        first = enqueue_due(session, settings=settings, worker_id="w1", kinds=KINDS)
    assert periodic.SIEM_PUSH not in {j.kind for j in first}  # no sink configured: off
    later = utcnow() + timedelta(days=3)
    with sessions.begin() as session:  # the first ones were never run: skip, do not pile up
        assert enqueue_due(session, settings=settings, worker_id="w2", kinds=KINDS, now=later) == []
        rows = {r.name: r.next_due_at for r in session.scalars(select(JobSchedule))}
    assert all(due > later for due in rows.values())  # the period was consumed
    off = settings.model_copy(update={"schedule_retention_seconds": 0})
    with sessions.begin() as session:
        again = enqueue_due(
            session, settings=off, worker_id="w1", kinds=KINDS, now=later + timedelta(days=3)
        )
    assert periodic.RETENTION_RUN not in {j.kind for j in again}


def test_jobs_schedule_shows_the_table(cli: Invoke, sessions: sessionmaker[Session]) -> None:
    result = cli(["jobs", "schedule", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)["schedule"]}
    assert set(rows) == {p.name for p in SCHEDULE}
    assert rows["retention"]["every_seconds"] == 86_400
    assert rows["siem-push"]["every_seconds"] == 0  # no sink configured
    assert rows["retention"]["next_due_at"] is None
    assert cli(["jobs", "schedule"]).exit_code == 0  # the table (its width is the terminal's)
