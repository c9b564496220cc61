"""The leak and audit pages in a real browser: upload a hostile dump, watch the analysis
run in a worker, read the report, open the incident; verify the trail, prove one event.
axe-core on every page, screenshots at 1366×768."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.anchoring import sign
from tests.browser import assert_accessible
from tests.console.browser.conftest import Site
from vigie.audit.actions import Action
from vigie.audit.models import AuditEvent
from vigie.breach.incidents import timeline
from vigie.jobs.worker import Worker
from vigie.registry.population import declare_population, load_population
from vigie.synth.load import POPULATION

pytestmark = pytest.mark.browser

SCRIPT = "<script>alert(1)</script>"
ONERROR = '"onerror=alert(1) x="'
RTL = "Ahmed \u202egpj.exe"


@pytest.fixture(scope="module")
def dump(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What formalang read through the API, as a leak would carry it, with hostile cells."""
    token = site.world.key("formalang")
    r = httpx.get(
        site.api_url + "/api/v1/subjects",
        params={"limit": 100},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200, r.text
    people = r.json()["data"]
    assert len(people) == 12
    sign(site.world.sessions, site.world.secrets)  # the gateway's reads, anchored
    path = tmp_path_factory.mktemp("leak") / "extraction.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter=";")
        w.writerow(["id", "prenom", "date_naissance", SCRIPT, RTL])
        for i, p in enumerate(people):
            note = (ONERROR, RTL, SCRIPT)[i % 3]
            w.writerow([p["pseudonym"], p["given_name"], p["birth_date"], note, ONERROR])
        f.write(f"{RTL};{ONERROR};{SCRIPT};x;y;z;too;many;cells\n")
    return path


def _events(site: Site, action: Action) -> list[AuditEvent]:
    with site.world.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action.value)))


def test_upload_a_leak_watch_it_run_read_the_report_open_the_incident(
    site: Site, watched: Page, shots: Path, worker: Worker, dump: Path
) -> None:
    dialogs: list[str] = []
    watched.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    site.sign_in(watched, "dora")
    watched.get_by_role("link", name="Leaks", exact=True).click()
    expect(watched.get_by_role("heading", level=1)).to_have_text("Leaks")
    assert_accessible(watched)
    watched.screenshot(path=str(shots / "leaks.png"))

    watched.get_by_label("Leaked file", exact=True).set_input_files(dump)
    watched.get_by_role("button", name="Upload and analyse").click()
    watched.wait_for_url(re.compile(r".*/leaks/jobs/\d+$"))
    expect(watched.get_by_role("heading", level=1)).to_have_text("Leak analysis")
    assert_accessible(watched)
    # htmx polls the progress block until the worker is done: no reload by the test.
    report_link = watched.get_by_role("link", name="Read the report")
    expect(report_link).to_be_visible(timeout=180_000)
    expect(watched.locator("#job .tag")).to_have_text("finished")
    watched.screenshot(path=str(shots / "leak-job.png"))
    assert_accessible(watched)

    report_link.click()
    watched.wait_for_url(re.compile(r".*/leaks/\d+$"))
    expect(watched.get_by_role("heading", level=1)).to_have_text("Leak report")
    attribution = watched.locator("section[aria-labelledby=h-attribution] tbody tr").first
    expect(attribution.locator("td").first).to_have_text("formalang")
    # The hostile cells are shown as text, and nothing ran.
    expect(watched.get_by_text(SCRIPT, exact=True).first).to_be_visible()
    expect(watched.get_by_text("Ahmed [U+202E]gpj.exe", exact=True).first).to_be_visible()
    expect(watched.get_by_text(ONERROR).first).to_be_visible()
    assert watched.locator("script:not([src])").count() == 0
    assert "[U+202E]" in watched.content() and "\u202e" not in watched.content()
    assert dialogs == []
    assert_accessible(watched)
    watched.screenshot(path=str(shots / "leak-report.png"), full_page=False)

    watched.get_by_role("button", name="Open an incident from this report").click()
    watched.wait_for_url(re.compile(r".*/incidents/\d+$"))  # the incident pages' route
    incident_id = int(watched.url.rsplit("/", 1)[1])
    opened = [e for e in _events(site, Action.INCIDENT_OPEN) if e.actor == "operator:dora"]
    assert opened, "the incident was not opened in dora's name"
    with site.world.sessions() as s:
        from vigie.breach.models import Incident

        incident = s.get(Incident, incident_id)
        assert incident is not None and incident.source == "leak"
    assert [e.actor for e in _events(site, Action.LEAK_ANALYZE)][-1] == "operator:dora"

    # The same DPO, on the incident's page: assess the risk (the registry's population
    # declared, as `vigie subjects population` does), then the authority pack.
    with site.world.sessions.begin() as s:
        declare_population(s, context=load_population(POPULATION), actor="operator:test")
    expect(watched.get_by_role("heading", level=1)).to_have_text("Incident")
    watched.get_by_label("Taken with malicious intent (e.g. offered for sale)").check()
    watched.locator("#assess button[type=submit]").click()
    expect(watched.get_by_text("Not assessed yet.")).to_have_count(0)
    watched.get_by_role("button", name="Prepare the authority pack").click()
    # A job: the section shows its progress and htmx refreshes it until the pack is there.
    expect(watched.locator("pre.pack")).to_contain_text(
        "Personal data breach notification", timeout=120_000
    )
    expect(watched.locator("#authority[hx-get]")).to_have_count(0)  # polling stopped
    with watched.expect_download() as download:
        watched.get_by_role("link", name=re.compile("^JSON")).first.click()
    pack = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert pack["people"]["approximate_number"] > 0
    with site.world.sessions() as s:
        done = {(e.kind, e.actor) for e in timeline(s, incident_id=incident_id)}
    assert {("risk", "operator:dora"), ("authority_pack", "operator:dora")} <= done, done
    assert_accessible(watched)


def test_verify_the_trail_and_prove_one_event(
    site: Site, watched: Page, shots: Path, worker: Worker
) -> None:
    site.sign_in(watched, "sam")
    watched.goto(site.url + "/audit")
    assert_accessible(watched)
    watched.get_by_role("button", name="Verify the whole trail now").click()
    watched.wait_for_url(re.compile(r".*/audit/verifications/\d+$"))
    expect(watched.locator("#job .tag")).to_have_text("finished", timeout=180_000)
    expect(watched.get_by_text("Events verified")).to_be_visible()
    assert_accessible(watched)
    watched.screenshot(path=str(shots / "audit-verification.png"))

    watched.goto(site.url + "/audit")
    watched.get_by_label("Event number").fill("1")
    watched.get_by_role("button", name="Prove this event").click()
    expect(
        watched.get_by_text(re.compile(r"Checked: event 1 is in signed checkpoint"))
    ).to_be_visible()
    assert_accessible(watched)
    watched.screenshot(path=str(shots / "audit-proof.png"))
