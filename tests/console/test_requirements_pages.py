"""The requirements pages: standing of every provider, the campaign and its
acknowledgements, the compliance report, and the sanction dossier built from the page
(the DPO's alone, audited, verifiable offline like the CLI's)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from tests.anchoring import sign
from tests.console.conftest import Desk
from tests.requirements.conftest import PROCESSORS_YAML, REQUIREMENTS_TEMPLATE, STATEMENT_PUB
from vigie.audit.actions import Action
from vigie.audit.key import AuditKey
from vigie.audit.models import AuditEvent
from vigie.breach.clock import FixedClock
from vigie.breach.incidents import open_incident
from vigie.processors.apply import apply_file as apply_processors
from vigie.processors.directory import get_processor
from vigie.processors.keys import issue_key
from vigie.requirements.campaigns import acknowledge, start_campaign
from vigie.requirements.spec import parse_requirements

ACTOR = "operator:test"


@pytest.fixture
def provided(desk: Desk, tmp_path: Path) -> Desk:
    """Two providers, a campaign raising four requirements (good-test acknowledged it),
    and an incident attributed to bad-test; the trail anchored."""
    world = desk.world
    path = tmp_path / "processors.yaml"
    path.write_text(PROCESSORS_YAML.replace("{statement_key}", STATEMENT_PUB))
    deadline = (world.now + timedelta(days=50)).date().isoformat()
    with world.sessions.begin() as s:
        apply_processors(s, path=path, actor=ACTOR)
        started = start_campaign(
            s, parsed=parse_requirements(REQUIREMENTS_TEMPLATE.replace("{deadline}", deadline)),
            actor=ACTOR, now=world.now,
        )  # fmt: skip
        assert started.campaign_id == 1
        good = get_processor(s, name="good-test")
        acknowledge(s, campaign_id=1, processor=good, actor=ACTOR, now=world.now)
        issue_key(s, processor="bad-test", actor=ACTOR, now=world.now)
        bad = get_processor(s, name="bad-test")
        open_incident(
            s, title="Leaked file attributed to bad-test", source="manual", aware_at=world.now,
            actor=ACTOR, processor_id=bad.id, clock=FixedClock(world.now),
        )  # fmt: skip
    sign(world.sessions, world.secrets)
    return desk


def test_the_overview_shows_each_providers_standing_and_the_campaign(provided: Desk) -> None:
    provided.operator("audrey", "auditor")
    page = provided.sign_in("audrey").get("/requirements")
    assert page.status_code == 200, page.text
    html = page.text
    for name in ("good-test", "bad-test", "key-allow-list v1", "mfa v1"):
        assert name in html
    assert "warning" in html  # not met yet, before the deadline
    assert "2027-03 test baseline" in html  # the campaign's label
    rows = html.split('id="progress-caption"')[1]
    good = rows.split("good-test")[1].split("</tr>")[0]
    bad = rows.split("bad-test")[1].split("</tr>")[0]
    assert "not yet" not in good and "not yet" in bad


def test_the_compliance_report_downloads_as_csv_and_pdf(provided: Desk) -> None:
    provided.operator("audrey", "auditor")
    client = provided.sign_in("audrey")
    r = client.get("/requirements/compliance.csv")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert {(row["processor"], row["requirement"]) for row in rows} == {
        (p, q) for p in ("bad-test", "good-test")
        for q in ("budget-ratio", "contacts", "key-allow-list", "mfa")
    }  # fmt: skip
    bad_contacts = next(
        row for row in rows if (row["processor"], row["requirement"]) == ("bad-test", "contacts")
    )
    assert bad_contacts["state"] != "met" and bad_contacts["phase"] == "warning"
    pdf = client.get("/requirements/compliance.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_a_providers_page_states_its_requirements_and_only_a_dpo_builds_a_dossier(
    provided: Desk,
) -> None:
    provided.operator("sam", "security")
    sam = provided.sign_in("sam")
    page = sam.get("/processors/bad-test/requirements").text
    assert "contacts v1" in page and "Only a DPO may build a dossier." in page
    r = sam.post("/processors/bad-test/dossier", data={"csrf": provided.csrf(sam), "incident": "1"})
    assert r.status_code == 403
    assert sam.get("/processors/nobody/requirements").status_code == 404


def test_the_dpo_builds_the_dossier_and_it_verifies_offline(provided: Desk, tmp_path: Path) -> None:
    provided.operator("dora", "dpo")
    dora = provided.sign_in("dora")
    page = dora.get("/processors/bad-test/requirements").text
    assert "Build the dossier" in page
    r = dora.post(
        "/processors/bad-test/dossier", data={"csrf": provided.csrf(dora), "incident": "1"}
    )
    assert r.status_code == 200, r.text[:500]
    assert r.headers["content-type"] == "application/zip"
    out = tmp_path / "dossier"
    with zipfile.ZipFile(io.BytesIO(r.content)) as archive:
        names = set(archive.namelist())
        archive.extractall(out)
    assert {"dossier.json", "dossier.pdf", "mise-en-demeure.md", "manifest.json",
            "manifest.sig", "verify_trail.py"} <= names  # fmt: skip
    content = json.loads((out / "dossier.json").read_text())
    assert content["processor"]["name"] == "bad-test"
    with provided.world.sessions() as s:
        [event] = s.scalars(
            select(AuditEvent).where(AuditEvent.action == Action.DOSSIER_BUILD.value)
        ).all()
    assert event.actor == "operator:dora"
    fingerprint = AuditKey.of(provided.world.secrets.verify_key).fingerprint
    verified = subprocess.run(  # our own verifier, shipped in the dossier
        [sys.executable, str(out / "verify_trail.py"), "--dossier", str(out),
         "--fingerprint", fingerprint],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_an_incident_that_does_not_exist_builds_nothing(provided: Desk) -> None:
    provided.operator("dora", "dpo")
    dora = provided.sign_in("dora")
    r = dora.post(
        "/processors/bad-test/dossier", data={"csrf": provided.csrf(dora), "incident": "99"}
    )
    assert r.status_code == 404
    with provided.world.sessions() as s:
        built = s.scalars(
            select(AuditEvent).where(AuditEvent.action == Action.DOSSIER_BUILD.value)
        ).all()
    assert built == []


def test_a_trail_that_does_not_verify_builds_no_dossier(provided: Desk) -> None:
    provided.operator("dora", "dpo")
    dora = provided.sign_in("dora")
    with provided.world.engine.begin() as conn:  # someone edits the trail behind its back
        conn.execute(
            text("UPDATE audit_events SET actor = 'operator:nobody' WHERE seq = 2")
        )  # fmt: skip
    r = dora.post(
        "/processors/bad-test/dossier", data={"csrf": provided.csrf(dora), "incident": "1"}
    )
    assert r.status_code == 409 and "does not verify" in r.text
    with provided.world.sessions() as s:
        built = s.scalars(
            select(AuditEvent).where(AuditEvent.action == Action.DOSSIER_BUILD.value)
        ).all()
    assert built == []
