"""The audit page: a verification as a job, the proof of one disclosure, the export."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from tests.console.conftest import Desk
from tests.leaks.conftest import copied_world
from tests.snapshots import Snapshot
from vigie.audit.actions import Action
from vigie.audit.models import AuditEvent
from vigie.jobs.kinds import KINDS
from vigie.jobs.worker import Worker


@pytest.fixture
def worker(desk: Desk) -> Iterator[Worker]:
    w = desk.world
    worker = Worker(settings=w.settings, secrets=w.secrets, engine=w.engine, kinds=dict(KINDS))
    yield worker
    worker.close()


def _events(desk: Desk, action: Action) -> list[AuditEvent]:
    with desk.world.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action.value)))


def test_a_verification_runs_as_a_job_with_its_result_on_the_page(
    desk: Desk, worker: Worker
) -> None:
    desk.operator("dora", "dpo")
    client = desk.sign_in("dora")
    r = client.post("/audit/verify", data={"csrf": desk.csrf(client, "/audit")})
    assert r.status_code == 303
    page = r.headers["location"]
    assert page.startswith("/audit/verifications/")
    (submitted,) = _events(desk, Action.JOB_SUBMIT)
    assert submitted.actor == "operator:dora"
    assert "waiting for a worker" in client.get(page).text
    assert worker.run(once=True) == 1
    done = client.get(page, headers={"HX-Request": "true"})
    assert "finished" in done.text and "Events verified" in done.text
    assert "hx-trigger" not in done.text
    assert f'href="{page}"' in client.get("/audit").text  # listed on the audit page
    # The audit health shows it: the overview's "last verification" is this job's result.
    overview = client.get("/").text
    assert re.search(rf'<dt>Last verification</dt>\s*<dd><a href="{page}">', overview)
    assert '<span class="tag ok">passed</span>' in overview


def test_the_proof_of_one_disclosure_by_event_or_by_processor_and_person(
    desk: Desk, registry_snapshot: Snapshot
) -> None:
    w = desk.world
    registry = copied_world(registry_snapshot, w.engine, w.sessions, w.secrets)
    name = "lingua-idf"
    person = registry.people[registry.real_received(name)[0]].ref
    desk.operator("audrey", "auditor")
    client = desk.sign_in("audrey")
    by_person = client.get(f"/audit/proof?processor={name}&person={person}&which=last")
    assert by_person.status_code == 200, by_person.text
    assert "subject:list" in by_person.text and "Checked: event" in by_person.text
    seq = int(by_person.text.split("Checked: event ")[1].split(" ")[0])
    download = client.get(f"/audit/proof?event={seq}&download=1")
    assert download.headers["content-type"] == "application/json"
    proof = json.loads(download.text)
    assert proof["type"] == "inclusion" and proof["seq"] == seq
    assert proof["event"]["action"] == "subject:list"
    assert client.get("/audit/proof?event=1").status_code == 200
    assert client.get(f"/audit/proof?processor={name}&person=NOBODY").status_code == 404
    assert client.get("/audit/proof?event=99999999").status_code == 404
    assert client.get("/audit/proof").status_code == 303  # no question: the forms


def test_the_export_is_a_zip_a_regulator_can_check(desk: Desk) -> None:
    desk.operator("sam", "security")
    client = desk.sign_in("sam")
    r = client.post("/audit/export", data={"csrf": desk.csrf(client, "/audit")})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert sorted(names) == [
        "audit-export/audit-keys.json",
        "audit-export/audit-signing.pub.pem",
        "audit-export/checkpoints.jsonl",
        "audit-export/events.jsonl",
        "audit-export/verify_trail.py",
    ]
    (exported,) = _events(desk, Action.AUDIT_EXPORT)
    assert exported.actor == "operator:sam"
    assert not [p for p in desk.world.settings.data_dir.iterdir() if p.name.startswith("export-")]


def test_the_auditor_reads_but_is_offered_no_run_nor_export(desk: Desk) -> None:
    desk.operator("audrey", "auditor")
    html = desk.sign_in("audrey").get("/audit").text
    assert 'action="/audit/verify"' not in html and 'action="/audit/export"' not in html
    assert 'action="/audit/proof"' in html
