"""The notice campaign as a job: a worker sends what ``vigie incident notify`` sends."""

from __future__ import annotations

import json

from sqlalchemy import select

from tests.console.incident_world import make_incident
from tests.gateway.conftest import World, world  # noqa: F401 (fixture)
from vigie.breach.campaign import campaign_progress
from vigie.breach.channels import outbox_dir
from vigie.breach.incidents import timeline
from vigie.errors import Denied, InvalidInput
from vigie.jobs.models import Job, JobState
from vigie.jobs.notices import submit_notice_campaign
from vigie.jobs.worker import Worker


def _submit(w: World, incident_id: int, channel: str = "sms") -> int:
    with w.sessions.begin() as s:
        return submit_notice_campaign(
            s, incident_id=incident_id, channel=channel, actor="operator:dora"
        ).id


def test_a_worker_sends_the_campaign_and_a_second_one_sends_nothing_again(
    world: World,  # noqa: F811
    worker: Worker,
) -> None:
    incident_id = make_incident(world, people=5)
    job_id = _submit(world, incident_id)
    assert worker.run_next() is not None
    with world.sessions() as s:
        job = s.get(Job, job_id)
        assert job is not None and job.state == JobState.DONE, job and job.error
        assert job.result is not None
        assert job.result["sent"] == {"sms": 5} and job.result["people"] == 5
        assert (job.done, job.total) == (5, 5)
        kinds = [(e.kind, e.actor) for e in timeline(s, incident_id=incident_id)]
        progress = campaign_progress(s, incident_id=incident_id)
    assert ("notify_queued", "operator:dora") in kinds
    assert ("notify", "operator:dora") in kinds
    assert progress.by_channel == {
        "sms": {"sent": 5, "sending": 0, "failed": 0, "bounced": 0, "no_contact": 0}
    }
    assert sum(progress.by_language["fr"].values()) == 5
    outbox = outbox_dir(world.settings) / f"sms-incident-{incident_id}.jsonl"
    assert len(outbox.read_text().splitlines()) == 5
    again = _submit(world, incident_id)
    worker.run_next()
    with world.sessions() as s:
        second = s.get(Job, again)
        assert second is not None and second.result is not None
        assert second.result["already"] == 5 and second.result["sent"] == {}
    assert len(outbox.read_text().splitlines()) == 5  # nothing sent twice
    assert "@" not in json.dumps(second.result)  # counts only


def test_submission_refuses_before_queueing(world: World) -> None:  # noqa: F811
    unassessed = make_incident(world, assess=False)
    try:
        _submit(world, unassessed)
    except Denied as exc:
        assert "no risk assessment" in str(exc)
    else:
        raise AssertionError("queued without an assessment")
    assessed = make_incident(world)
    try:
        _submit(world, assessed, channel="pigeon")
    except InvalidInput as exc:
        assert "unknown channel" in str(exc)
    else:
        raise AssertionError("queued an unknown channel")
    _submit(world, assessed)
    try:
        _submit(world, assessed)
    except Denied as exc:
        assert "already queued" in str(exc)
    else:
        raise AssertionError("two campaigns of one incident queued")
    with world.sessions() as s:
        assert len(list(s.scalars(select(Job)))) == 1
