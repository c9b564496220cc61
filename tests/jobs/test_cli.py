"""`vigie worker`, `vigie jobs list|show|cancel`, and `--background` on the commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from tests.leaks.conftest import world  # noqa: F401 - the leak tests' registry fixture
from tests.leaks.helpers import HEADERS_FR, World, leak_rows, write_csv
from vigie.cli.app import app
from vigie.cli.context import Instance
from vigie.jobs import queue
from vigie.settings import Settings

runner = CliRunner()


@pytest.fixture
def vigie(settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COLUMNS", "200")

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(app, list(args), obj=Instance(settings=settings, _engine=engine))

    return invoke


def _queued(output: str) -> int:
    assert output.startswith("Queued as job "), output
    return int(output.removeprefix("Queued as job ").split(":")[0])


def test_background_commands_queue_jobs_a_worker_runs(
    world: World,  # noqa: F811
    vigie,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    fields = ["given_name", "family_name", "email"]
    rows = leak_rows(world, "lingua-idf", sorted(world.real_received("lingua-idf"))[:40], fields)
    dump = write_csv(tmp_path / "dump.csv", [HEADERS_FR[f] for f in fields], rows)
    html = tmp_path / "report.html"
    queued = vigie("leak", "analyze", str(dump), "--html", str(html), "--background")
    assert queued.exit_code == 0, queued.output
    leak_job = _queued(queued.output)
    assert not html.exists()  # nothing ran yet
    queued = vigie("audit", "verify", "--background")
    assert queued.exit_code == 0, queued.output
    verify_job = _queued(queued.output)
    listed = vigie("jobs", "list", "--json")
    assert json.loads(listed.output)["depth"]["queued"] == 2
    ran = vigie("worker", "--once")
    assert ran.exit_code == 0, ran.output
    assert "stopped after 2 job(s)" in ran.output
    shown = json.loads(vigie("jobs", "show", str(leak_job), "--json").output)
    assert shown["state"] == "done" and shown["actor"].startswith("operator:")
    assert shown["result"]["outputs"] == {"html_out": str(html.resolve())} and html.exists()
    shown = json.loads(vigie("jobs", "show", str(verify_job), "--json").output)
    assert shown["state"] == "done" and shown["result"]["ok"] is True
    table = vigie("jobs", "list")  # its columns wrap to the terminal's width: ids, then totals
    assert f"│ {leak_job} " in table.output and f"│ {verify_job} " in table.output
    assert "0 queued, 0 running, 2 done" in table.output
    kinds = {j["kind"] for j in json.loads(vigie("jobs", "list", "--json").output)["jobs"]}
    assert kinds == {"leak.analyze", "audit.verify"}
    assert (
        "--background takes neither" in vigie("audit", "verify", "--background", "--strict").output
    )


def test_jobs_cancel(vigie, sessions: sessionmaker[Session]) -> None:  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        job_id = queue.enqueue(s, kind="audit.verify", params={}, actor="operator:test").id
    done = vigie("jobs", "cancel", str(job_id))
    assert done.exit_code == 0 and f"Job {job_id} cancelled." in done.output
    again = vigie("jobs", "cancel", str(job_id))
    assert again.exit_code == 1 and "already cancelled" in again.output
    missing = vigie("jobs", "show", "999")
    assert missing.exit_code == 1 and "no job 999" in missing.output
    shown = vigie("jobs", "show", str(job_id))
    assert "state: cancelled" in shown.output
