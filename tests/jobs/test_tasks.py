"""The real job kinds: a leak analysis and an audit verification run by a worker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from tests.leaks.conftest import world  # noqa: F401 - the leak tests' registry fixture
from tests.leaks.helpers import HEADERS_FR, World, leak_rows, write_csv
from vigie.audit.actions import Action
from vigie.audit.models import AuditEvent
from vigie.audit.verify import verify_trail
from vigie.errors import InvalidInput
from vigie.jobs import queue
from vigie.jobs.tasks import submit_audit_verification, submit_leak_analysis
from vigie.jobs.worker import Worker
from vigie.secrets import InstanceSecrets


def test_a_leak_analysis_job_stores_the_report_and_names_the_source(
    world: World,  # noqa: F811
    worker: Worker,
    sessions: sessionmaker[Session],
    engine: Engine,
    secrets: InstanceSecrets,
    tmp_path: Path,
) -> None:
    name = "lingua-idf"
    fields = ["given_name", "family_name", "email"]
    rows = leak_rows(world, name, sorted(world.real_received(name))[:60], fields)
    dump = write_csv(tmp_path / "dump.csv", [HEADERS_FR[f] for f in fields], rows)
    out = tmp_path / "report.json"
    with sessions.begin() as s:
        job_id = submit_leak_analysis(
            s, paths=[dump], actor="operator:dpo", outputs={"json_out": out}
        ).id
        assert queue.get_job(s, job_id=job_id).params == {
            "paths": [str(dump.resolve())],
            "json_out": str(out.resolve()),
        }
    assert worker.run(once=True) == 1
    with sessions() as s:
        job = queue.get_job(s, job_id=job_id)
        event = s.scalars(
            select(AuditEvent).where(AuditEvent.action == Action.LEAK_ANALYZE.value)
        ).one()
    assert job.state == "done", job.error
    assert job.phase == "storing the report"
    result = job.result or {}
    assert result["verdict"] == "authentic"
    assert result["attributed_processor_ids"][:1] == [world.processors[name]]
    assert result["outputs"] == {"json_out": str(out.resolve())}
    assert json.loads(out.read_text())["stored_id"] == result["analysis_id"]
    assert event.actor == "operator:dpo"
    assert json.loads(event.detail or "{}")["analysis_id"] == result["analysis_id"]
    # The job's audit events are anchored when it ends, as a CLI command's are.
    assert verify_trail(engine, public_key=secrets.verify_key).tail.events == 0


def test_a_leak_analysis_needs_files_that_exist(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with sessions.begin() as s, pytest.raises(InvalidInput, match="no such file"):
        submit_leak_analysis(s, paths=[tmp_path / "absent.csv"], actor="operator:dpo")


def test_an_audit_verification_job_reports_events_and_fails_on_a_fault(
    world: World,  # noqa: F811
    worker: Worker,
    sessions: sessionmaker[Session],
    engine: Engine,
) -> None:
    with sessions.begin() as s:
        events = s.scalar(text("SELECT count(*) FROM audit_events"))
        first = submit_audit_verification(s, actor="operator:auditor").id
    worker.run(once=True)
    with sessions() as s:
        job = queue.get_job(s, job_id=first)
    assert job.state == "done", job.error
    events += 1  # the job:submit event, appended with the job
    assert (job.result or {})["events"] == events and (job.result or {})["anchored"] is True
    assert (job.phase, job.done, job.total) == ("verifying", events, events)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'operator:mallory' WHERE seq = 5"))
    with sessions.begin() as s:
        second = submit_audit_verification(s, actor="operator:auditor").id
    worker.run(once=True)
    with sessions() as s:
        job = queue.get_job(s, job_id=second)
    assert job.state == "failed"
    assert job.error is not None and job.error.startswith("event 5:")
