"""The requirements pages in Chromium, with a baseline, a campaign and an incident: the
grid, a provider's page, the dossier downloaded from the button; axe-core at desktop
and phone widths, and screenshots."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.anchoring import sign
from tests.browser import assert_accessible
from tests.console.browser.conftest import PASSWORD, Site
from tests.console.browser.test_phone import PHONE, _fits
from tests.requirements.conftest import PROCESSORS_YAML, REQUIREMENTS_TEMPLATE, STATEMENT_PUB
from vigie.breach.clock import FixedClock
from vigie.breach.incidents import open_incident
from vigie.console.operators import add_operator
from vigie.processors.apply import apply_file as apply_processors
from vigie.processors.directory import get_processor
from vigie.requirements.campaigns import acknowledge, start_campaign
from vigie.requirements.spec import parse_requirements

pytestmark = pytest.mark.browser
ACTOR = "operator:test"


@pytest.fixture(scope="module")
def provided(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Site:
    world = site.world
    path = tmp_path_factory.mktemp("requirements") / "processors.yaml"
    path.write_text(PROCESSORS_YAML.replace("{statement_key}", STATEMENT_PUB))
    deadline = (world.now + timedelta(days=50)).date().isoformat()
    with world.sessions.begin() as s:
        apply_processors(s, path=path, actor=ACTOR)
        start_campaign(
            s, parsed=parse_requirements(REQUIREMENTS_TEMPLATE.replace("{deadline}", deadline)),
            actor=ACTOR, now=world.now,
        )  # fmt: skip
        acknowledge(
            s, campaign_id=1, processor=get_processor(s, name="good-test"), actor=ACTOR,
            now=world.now,
        )  # fmt: skip
        open_incident(
            s, title="Leaked file attributed to bad-test", source="manual", aware_at=world.now,
            actor=ACTOR, processor_id=get_processor(s, name="bad-test").id,
            clock=FixedClock(world.now),
        )  # fmt: skip
        add_operator(
            s, login="rita", role="dpo", password=PASSWORD, language="en", actor=ACTOR
        )  # fmt: skip
    sign(world.sessions, world.secrets)
    return site


def test_the_dpo_reads_the_standing_and_downloads_the_dossier(
    provided: Site, watched: Page, shots: Path
) -> None:
    provided.sign_in(watched, "rita")
    watched.get_by_role("link", name="Requirements").click()
    expect(watched.get_by_role("heading", level=1)).to_have_text("Requirements")
    expect(watched.get_by_role("region", name="Providers × requirements")).to_be_visible()
    assert_accessible(watched)
    watched.screenshot(path=str(shots / "requirements.png"))
    watched.get_by_role("link", name="bad-test").click()
    expect(watched.get_by_role("cell", name="contacts v1", exact=False)).to_be_visible()
    assert_accessible(watched)
    watched.screenshot(path=str(shots / "provider-requirements.png"))
    with watched.expect_download(timeout=120_000) as download:  # a PDF to draw: slow
        watched.get_by_role("button", name="Build the dossier (ZIP download)").click()
    data = Path(download.value.path()).read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert {"dossier.pdf", "dossier.json", "manifest.sig"} <= set(archive.namelist())

    watched.set_viewport_size(PHONE)
    for path in ("/requirements", "/processors/bad-test/requirements"):
        watched.goto(provided.url + path)
        _fits(watched, path)
        assert_accessible(watched)
    watched.goto(provided.url + "/requirements")
    watched.screenshot(path=str(shots / "phone-requirements-grid.png"), full_page=True)
