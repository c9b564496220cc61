"""Incidents in a real browser: the DPO overrules, prepares and downloads the authority
pack, starts the notices; the register; French per operator; axe-core and screenshots."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.browser import assert_accessible
from tests.console.browser.conftest import PASSWORD, Site
from tests.console.incident_world import make_incident
from vigie.breach.incidents import timeline
from vigie.console.operators import add_operator
from vigie.jobs.models import Job
from vigie.jobs.notices import NOTIFY
from vigie.jobs.worker import Worker

pytestmark = pytest.mark.browser
HOSTILE_TITLE = "<script>alert(1)</script> \u202egpj.exe dump"


@pytest.fixture(scope="module")
def incident_id(site: Site) -> int:
    return make_incident(site.world, people=5, title="Extract of lingua's scope on sale")


def test_the_dpo_runs_the_response_from_the_incident_page(
    site: Site, watched: Page, shots: Path, incident_id: int, worker: Worker
) -> None:
    site.sign_in(watched, "dora")
    watched.get_by_role("link", name="Incidents").click()
    assert_accessible(watched)
    watched.screenshot(path=str(shots / "incidents.png"))
    watched.get_by_role("link", name="Extract of lingua's scope on sale").click()
    expect(watched.get_by_role("heading", level=1)).to_have_text("Incident")
    expect(watched.locator("#clock")).to_contain_text("left")
    assert_accessible(watched)
    # The DPO overrules, with a reason.
    watched.get_by_label("Send no individual notices").check()
    watched.get_by_label("Reason (required, kept in the audit trail)").fill(
        "The extract holds no contact the buyers can use"
    )
    watched.get_by_role("button", name="Overrule the assessment").click()
    expect(watched.locator(".notice").first).to_contain_text(
        "The extract holds no contact the buyers can use"
    )
    watched.screenshot(path=str(shots / "incident.png"), full_page=False)
    # And changes their mind: notices after all (the campaign needs a decision for them).
    watched.get_by_label("Tell each person", exact=True).check()
    watched.get_by_label("Reason (required, kept in the audit trail)").fill(
        "Contacts were in the extract after all"
    )
    watched.get_by_role("button", name="Overrule the assessment").click()
    # The authority pack: prepared, previewed, downloaded.
    watched.get_by_role("button", name="Prepare the authority pack").click()
    # A job: the section shows its progress and htmx refreshes it until the pack is there.
    expect(watched.locator("pre.pack")).to_contain_text(
        "Personal data breach notification", timeout=120_000
    )
    expect(watched.locator("#authority[hx-get]")).to_have_count(0)  # polling stopped
    assert_accessible(watched)
    watched.locator("#authority").scroll_into_view_if_needed()
    watched.screenshot(path=str(shots / "authority-pack.png"))
    with watched.expect_download() as download:
        watched.get_by_role("link", name=re.compile("^JSON")).first.click()
    pack = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert pack["people"]["approximate_number"] == 5
    with watched.expect_download() as download:
        watched.get_by_role("link", name=re.compile("^PDF")).first.click()
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF")
    # The notices: queued as a job of dora's.
    watched.get_by_label("Channel").select_option("sms")
    watched.get_by_role("button", name="Send the notices").click()
    # Queued, then run by the worker beside the console (either may show by now).
    expect(watched.locator("#campaign")).to_contain_text(re.compile(r"Campaign job \d+: "))
    with site.world.sessions() as s:
        job = s.scalars(select(Job).where(Job.kind == NOTIFY)).one()
        actors = {(e.kind, e.actor) for e in timeline(s, incident_id=incident_id)}
    assert job.actor == "operator:dora"
    for kind in ("risk_override", "authority_pack", "notify_queued"):
        assert (kind, "operator:dora") in actors
    assert_accessible(watched)


def test_the_register_and_its_csv(site: Site, watched: Page, shots: Path, incident_id: int) -> None:
    site.sign_in(watched, "audrey")
    watched.get_by_role("link", name="Register").click()
    expect(watched.get_by_role("heading", level=1)).to_have_text("Breach register")
    assert_accessible(watched)
    watched.screenshot(path=str(shots / "register.png"))
    with watched.expect_download() as download:
        watched.get_by_role("link", name="Download the register (CSV)").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert text.startswith("incident_id,title,")


def test_a_hostile_incident_title_renders_inert(site: Site, watched: Page) -> None:
    hostile = make_incident(site.world, people=1, title=HOSTILE_TITLE)
    dialogs: list[str] = []
    watched.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    site.sign_in(watched, "audrey")
    for path in ("/incidents", f"/incidents/{hostile}", "/register", "/"):
        watched.goto(site.url + path)
        expect(watched.get_by_text("[U+202E]gpj.exe dump").first).to_be_visible()
    assert watched.locator("script:not([src])").count() == 0
    assert dialogs == []


def test_an_operator_switches_their_console_to_french(
    site: Site, watched: Page, incident_id: int
) -> None:
    with site.world.sessions.begin() as s:
        add_operator(
            s, login="lea", role="auditor", password=PASSWORD, language="en", actor="operator:t"
        )
    site.sign_in(watched, "lea")
    watched.goto(site.url + f"/incidents/{incident_id}")
    watched.get_by_label("Language", exact=True).select_option("fr")
    watched.get_by_role("button", name="Change").click()
    expect(watched.locator("html")).to_have_attribute("lang", "fr")
    expect(watched.get_by_role("link", name="Registre")).to_be_visible()
    watched.goto(site.url + f"/incidents/{incident_id}")
    expect(watched.get_by_role("heading", name="Évaluation du risque")).to_be_visible()
    assert_accessible(watched)
