"""The leaks page: upload sealed as it arrives, analysis as a job, report, incident."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.console.conftest import Client, Desk
from tests.leaks.conftest import copied_world
from tests.leaks.helpers import HEADERS_FR, World, leak_rows, write_csv
from tests.snapshots import Snapshot
from vigie.audit.actions import Action
from vigie.audit.models import AuditEvent
from vigie.jobs import queue
from vigie.jobs.kinds import KINDS
from vigie.jobs.worker import Worker
from vigie.leaks.uploads import upload_dir

SOURCE = "lingua-idf"
FIELDS = ["given_name", "family_name", "email"]


@pytest.fixture
def registry(desk: Desk, registry_snapshot: Snapshot) -> World:
    w = desk.world
    return copied_world(registry_snapshot, w.engine, w.sessions, w.secrets)


@pytest.fixture
def worker(desk: Desk) -> Iterator[Worker]:
    w = desk.world
    worker = Worker(settings=w.settings, secrets=w.secrets, engine=w.engine, kinds=dict(KINDS))
    yield worker
    worker.close()


def _dump(registry: World, tmp_path: Path) -> bytes:
    rows = leak_rows(registry, SOURCE, registry.real_received(SOURCE)[:60], FIELDS)
    path = write_csv(tmp_path / "dump.csv", [HEADERS_FR[f] for f in FIELDS], rows)
    return path.read_bytes()


def _upload(client: Client, token: str, content: bytes, name: str = "dump.csv") -> object:
    return client.post(
        "/leaks",
        data={"csrf": token},
        files={"dump": (name, io.BytesIO(content), "text/csv")},
    )


def _events(desk: Desk, action: Action) -> list[AuditEvent]:
    with desk.world.sessions() as s:
        found = select(AuditEvent).where(AuditEvent.action == action.value)
        return list(s.scalars(found))


def test_upload_analyse_report_and_open_the_incident(
    desk: Desk, registry: World, worker: Worker, tmp_path: Path
) -> None:
    desk.operator("dora", "dpo")
    client = desk.sign_in("dora")
    content = _dump(registry, tmp_path)
    r = _upload(client, desk.csrf(client, "/leaks"), content)
    assert r.status_code == 303, r.text  # type: ignore[attr-defined]
    job_page = r.headers["location"]  # type: ignore[attr-defined]
    job_id = int(job_page.rsplit("/", 1)[1])

    # Queued, sealed: no clear text of the file on disk, its name not kept.
    stored = list(upload_dir(desk.world.settings).iterdir())
    assert len(stored) == 1 and stored[0].name.endswith(".csv.sealed")
    sealed = stored[0].read_bytes()
    assert content[:40] not in sealed and b"dump" not in stored[0].name.encode()
    with desk.world.sessions() as s:
        job = queue.get_job(s, job_id=job_id)
        assert job.params == {"paths": [str(stored[0].resolve())], "uploaded": True}
        assert job.actor == "operator:dora"
    (submitted,) = _events(desk, Action.JOB_SUBMIT)
    assert submitted.actor == "operator:dora"
    assert json.loads(submitted.detail or "{}") == {
        "job_id": job_id,
        "kind": "leak.analyze",
        "files": 1,
    }

    page = client.get(job_page)
    assert "waiting for a worker" in page.text and 'hx-trigger="every 1s"' in page.text
    partial = client.get(job_page, headers={"HX-Request": "true"})
    assert partial.text.lstrip().startswith('<div id="job"') and "<html" not in partial.text

    assert worker.run(once=True) == 1
    done = client.get(job_page, headers={"HX-Request": "true"})
    assert "finished" in done.text and "hx-trigger" not in done.text  # polling stops
    assert not list(upload_dir(desk.world.settings).iterdir())  # analysed: deleted
    with desk.world.sessions() as s:
        analysis_id = int((queue.get_job(s, job_id=job_id).result or {})["analysis_id"])
    assert f'href="/leaks/{analysis_id}"' in done.text
    (analysed,) = _events(desk, Action.LEAK_ANALYZE)
    assert analysed.actor == "operator:dora"

    report = client.get(f"/leaks/{analysis_id}")
    assert report.status_code == 200
    assert "authentic" in report.text and SOURCE in report.text
    assert "False-attribution probability" in report.text
    assert f'action="/leaks/{analysis_id}/incident"' in report.text

    token = desk.csrf(client, f"/leaks/{analysis_id}")
    r2 = client.post(f"/leaks/{analysis_id}/incident", data={"csrf": token})
    assert r2.status_code == 303
    incident_id = int(r2.headers["location"].rsplit("/", 1)[1])
    assert r2.headers["location"] == f"/incidents/{incident_id}"
    (opened,) = _events(desk, Action.INCIDENT_OPEN)
    assert opened.actor == "operator:dora"
    again = client.get(f"/leaks/{analysis_id}")
    assert f'href="/incidents/{incident_id}"' in again.text and '/incident"' not in again.text
    twice = client.post(f"/leaks/{analysis_id}/incident", data={"csrf": token})
    assert twice.status_code == 400
    assert len(_events(desk, Action.INCIDENT_OPEN)) == 1


def test_a_file_without_the_token_first_is_refused_and_nothing_is_kept(
    desk: Desk, tmp_path: Path
) -> None:
    desk.operator("sam", "security")
    client = desk.sign_in("sam")
    token = desk.csrf(client, "/leaks")
    assert _upload(client, "wrong", b"a;b\n1;2\n").status_code == 403  # type: ignore[attr-defined]
    # The token after the file: too late, the file was not kept.
    body = (
        b'--B\r\nContent-Disposition: form-data; name="dump"; filename="x.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\na;b\n1;2\n\r\n"
        b'--B\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n'
        + token.encode()
        + b"\r\n--B--\r\n"
    )
    late = client.post(
        "/leaks", content=body, headers={"content-type": "multipart/form-data; boundary=B"}
    )
    assert late.status_code == 403
    assert not upload_dir(desk.world.settings).exists() or not list(
        upload_dir(desk.world.settings).iterdir()
    )
    assert not _events(desk, Action.JOB_SUBMIT)


@pytest.mark.parametrize(
    ("name", "content", "status"),
    [
        ("dump.exe", b"MZ", 400),  # not a format Vigie reads
        ("dump.csv", b"", 400),  # empty
        ("dump.csv", b"x" * 5000, 413),  # past leak_upload_max_bytes (set to 4096 below)
    ],
)
def test_bad_uploads_are_refused_and_leave_nothing(
    desk: Desk, name: str, content: bytes, status: int
) -> None:
    desk.world.settings.leak_upload_max_bytes = 4096
    from vigie.console.app import create_app

    w = desk.world
    desk.app = create_app(w.settings, engine=w.engine, secrets=w.secrets, clock=w.clock)
    desk.operator("dora", "dpo")
    client = desk.sign_in("dora")
    r = _upload(client, desk.csrf(client, "/leaks"), content, name)
    assert r.status_code == status, r.text  # type: ignore[attr-defined]
    folder = upload_dir(w.settings)
    assert not folder.exists() or not list(folder.iterdir())
    assert not _events(desk, Action.JOB_SUBMIT)


def test_an_auditor_reads_the_leaks_page_but_is_offered_no_upload(desk: Desk) -> None:
    desk.operator("audrey", "auditor")
    client = desk.sign_in("audrey")
    page = client.get("/leaks")
    assert page.status_code == 200
    assert 'type="file"' not in page.text


def test_an_upload_that_cannot_be_audited_queues_nothing_and_keeps_nothing(desk: Desk) -> None:
    from tests.audit.test_trail import _refuse_event_inserts

    desk.operator("dora", "dpo")
    client = desk.sign_in("dora")
    token = desk.csrf(client, "/leaks")
    _refuse_event_inserts(desk.world.engine)
    r = _upload(client, token, b"nom;prenom\nZorglub;Kestrel\n")
    assert r.status_code == 503  # type: ignore[attr-defined]
    assert "nothing was done" in r.text  # type: ignore[attr-defined]
    assert not list(upload_dir(desk.world.settings).iterdir())
    with desk.world.sessions() as s:
        assert not queue.list_jobs(s)
