"""The authority pack as a job: a worker verifies the trail (progress in events), then
prepares what ``vigie incident authority-pack`` prepares; the gate's refusal fails it."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from tests.anchoring import sign
from tests.console.incident_world import make_incident
from tests.gateway.conftest import World, world  # noqa: F401 (fixture)
from vigie.audit.models import HEAD, AuditEvent
from vigie.breach.incidents import timeline
from vigie.breach.models import AuthorityNotification
from vigie.errors import Denied, NotFound
from vigie.jobs.authority import AUTHORITY_PACK, pack_jobs, submit_authority_pack
from vigie.jobs.models import Job, JobState
from vigie.jobs.worker import Worker


def _submit(w: World, incident_id: int, *, complementary: bool = False) -> int:
    with w.sessions.begin() as s:
        return submit_authority_pack(
            s, incident_id=incident_id, actor="operator:dora", complementary=complementary
        ).id


def _job(w: World, job_id: int) -> Job:
    with w.sessions() as s:
        job = s.get(Job, job_id)
        assert job is not None
        return job


def test_a_worker_verifies_the_trail_then_prepares_the_pack(
    world: World,  # noqa: F811
    worker: Worker,
) -> None:
    incident_id = make_incident(world, people=4)
    sign(world.sessions, world.secrets)
    job_id = _submit(world, incident_id)
    with world.sessions() as s:
        [submitted] = s.scalars(select(AuditEvent).where(AuditEvent.action == "job:submit"))
        assert [j.id for j in pack_jobs(s, incident_id=incident_id)] == [job_id]
        size = s.scalar(select(HEAD.c.size).where(HEAD.c.id == 1))
    assert submitted.actor == "operator:dora"
    assert json.loads(submitted.detail or "{}") == {
        "job_id": job_id, "kind": AUTHORITY_PACK, "incident_id": incident_id,
    }  # fmt: skip
    assert worker.run_next() is not None
    job = _job(world, job_id)
    assert job.state == JobState.DONE, job.error
    assert job.result is not None and job.result["phase"] == 1
    assert job.result["events_verified"] == size  # the whole trail, job:submit included
    assert job.phase == "preparing the pack"
    with world.sessions() as s:
        [pack] = s.scalars(select(AuthorityNotification))
        actors = {(e.kind, e.actor) for e in timeline(s, incident_id=incident_id)}
    assert pack.incident_id == incident_id and pack.content["people"]["approximate_number"] == 4
    assert ("authority_pack", "operator:dora") in actors  # in the operator's name
    # A complementary phase is a second job, a phase 2.
    again = _submit(world, incident_id, complementary=True)
    worker.run_next()
    assert (_job(world, again).result or {}).get("phase") == 2


def test_one_pack_at_a_time_per_incident_and_only_of_an_incident(
    world: World,  # noqa: F811
) -> None:
    incident_id = make_incident(world)
    other = make_incident(world, title="Another one")
    first = _submit(world, incident_id)
    with pytest.raises(Denied, match=f"already queued \\(job {first}\\)"):
        _submit(world, incident_id)
    _submit(world, other)  # another incident's pack is not held up
    with pytest.raises(NotFound):
        _submit(world, 9999)


def test_the_gate_refuses_and_the_job_fails_with_its_reason(
    world: World,  # noqa: F811
    worker: Worker,
) -> None:
    incident_id = make_incident(world)
    sign(world.sessions, world.secrets)
    with world.sessions.begin() as s:  # tamper with the trail behind the chain's back
        event = s.scalars(select(AuditEvent).order_by(AuditEvent.seq)).first()
        assert event is not None
        event.actor = "operator:someone-else"
    job_id = _submit(world, incident_id)
    worker.run_next()
    job = _job(world, job_id)
    assert job.state == JobState.FAILED
    assert job.error is not None and "does not verify" in job.error
    assert "the authority pack refused" in job.error
    with world.sessions() as s:
        assert s.scalars(select(AuthorityNotification)).first() is None
        assert ("authority_pack", "operator:dora") not in {
            (e.kind, e.actor) for e in timeline(s, incident_id=incident_id)
        }
