"""The console in a real browser: sign-in, figures, suspension, roles, hostile names,
CSRF, session expiry, accessibility (axe-core) and screenshots."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.browser import assert_accessible
from tests.console.browser.conftest import PASSWORD, Site
from tests.console.test_roles import FORM, PARAMS
from vigie.audit.actions import Action
from vigie.audit.models import AuditEvent
from vigie.console.auth import PasswordCost
from vigie.console.operators import add_operator
from vigie.console.roles import Need
from vigie.console.routes import OWN_SESSION, ROUTES
from vigie.detection.alerts import raise_alert
from vigie.detection.findings import Severity


def _row(page: Page, name: str) -> list[str]:
    row = page.locator("tbody tr").filter(has=page.get_by_role("link", name=name, exact=True))
    return [c.strip() for c in row.locator("td").all_inner_texts()]


def test_sign_in_with_password_and_totp_then_the_overview_shows_the_store(
    site: Site, watched: Page, shots: Path
) -> None:
    site.sign_in(watched, "dora")
    expect(watched.get_by_role("heading", level=1)).to_have_text("Overview")
    assert _row(watched, "formalang")[:2] == ["active", "12"]
    assert _row(watched, "formalang")[3:6] == ["40", "0", "900"]
    assert _row(watched, "hostile")[1] == "2"
    assert_accessible(watched)
    watched.screenshot(path=str(shots / "overview.png"))


def test_security_suspends_a_processor_and_its_key_is_refused(
    site: Site, watched: Page, shots: Path
) -> None:
    key = site.world.key("lingua")
    assert site.api_status(key) == 200
    site.sign_in(watched, "sam")
    watched.get_by_role("link", name="Processors").click()
    watched.get_by_role("link", name="lingua", exact=True).click()
    assert_accessible(watched)
    watched.screenshot(path=str(shots / "processor.png"))
    watched.get_by_label("Reason (required, kept in the audit trail)").fill(
        "Bulk reads outside working hours"
    )
    watched.get_by_role("button", name=re.compile("^Suspend this processor")).click()
    expect(
        watched.locator("dd").filter(has_text="Bulk reads outside working hours")
    ).to_be_visible()
    assert site.api_status(key) == 403
    with site.world.sessions() as s:
        event = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == Action.PROCESSOR_SUSPEND.value)
            .order_by(AuditEvent.seq.desc())
        ).first()
    assert event is not None and event.actor == "operator:sam"
    assert json.loads(event.detail or "{}")["reason"] == "Bulk reads outside working hours"
    # Reinstate, so that the other tests see lingua active.
    watched.get_by_label("Reason (required, kept in the audit trail)").fill("Explained")
    watched.get_by_role("button", name="Reinstate this processor").click()
    expect(watched.locator(".tag.ok").first).to_have_text("active")
    assert site.api_status(key) == 200


def test_a_suspension_without_a_reason_is_not_sent(site: Site, watched: Page) -> None:
    site.sign_in(watched, "sam")
    watched.goto(site.url + "/processors/formalang")
    watched.get_by_role("button", name=re.compile("^Suspend this processor")).click()
    # The browser asks for the required field; nothing left the page.
    assert watched.url == site.url + "/processors/formalang"
    expect(watched.locator(".tag.ok").first).to_have_text("active")


def test_security_escalates_a_low_alert_to_an_incident(site: Site, watched: Page) -> None:
    with site.world.sessions.begin() as s:
        alert_id = raise_alert(
            s, detector="rare-hour", severity=Severity.LOW, processor_id=None, key_id=None,
            summary="Reads at 3 a.m. from an unknown address", evidence={"requests": 4},
            now=site.world.now,
        ).id  # fmt: skip
    site.sign_in(watched, "sam")
    watched.get_by_role("link", name="Alerts").click()
    alert = watched.locator(f"#alert-{alert_id}")
    escalate = alert.get_by_role("button", name=f"Escalate alert #{alert_id} to an incident")
    escalate.click()  # no reason: the browser asks for it, nothing is sent
    assert watched.url == site.url + "/alerts"
    alert.get_by_label("Why this is a breach to handle").fill("The provider confirms a theft")
    escalate.click()
    link = alert.get_by_role("link", name=re.compile(r"^Incident \d+$"))
    expect(link).to_be_visible()
    expect(escalate).to_have_count(0)  # attached: the link instead of the button
    assert_accessible(watched)
    with site.world.sessions() as s:
        event = s.scalars(
            select(AuditEvent).where(AuditEvent.action == Action.ALERT_ESCALATE.value)
        ).one()
    assert event.actor == "operator:sam"
    assert json.loads(event.detail or "{}") == {
        "alert_id": alert_id,
        "reason": "The provider confirms a theft",
    }
    link.click()
    expect(watched.get_by_role("heading", level=1)).to_have_text("Incident")
    expect(watched.get_by_text(f"Alert #{alert_id} escalated (rare-hour)").first).to_be_visible()


def test_the_auditor_cannot_change_anything(site: Site, watched: Page) -> None:
    site.sign_in(watched, "audrey")
    watched.goto(site.url + "/processors/formalang")
    expect(watched.get_by_role("button", name=re.compile("Suspend|Reinstate"))).to_have_count(0)
    token = watched.locator("input[name=csrf]").first.get_attribute("value")
    changing = [
        (m, p)
        for (m, p), need in ROUTES.items()
        if m != "GET" and need not in OWN_SESSION and need is not Need.PUBLIC
    ]
    assert changing
    for method, template in changing:
        r = watched.request.fetch(
            site.url + template.format(**PARAMS),
            method=method,
            form={"csrf": token or "", **FORM},
            headers={"Origin": site.url},
        )
        assert r.status == 403, (method, template)


def test_hostile_names_render_inert(site: Site, watched: Page, shots: Path) -> None:
    dialogs: list[str] = []
    watched.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    site.sign_in(watched, "dora")
    for path in ("/", "/processors", "/processors/hostile"):
        watched.goto(site.url + path)
        expect(watched.get_by_text("<script>alert(1)</script> Formations").first).to_be_visible()
    expect(watched.get_by_text("Ahmed [U+202E]gpj.exe")).to_be_visible()
    expect(watched.get_by_text('"onerror=alert(1) x="@evil.example')).to_be_visible()
    assert watched.locator("script:not([src])").count() == 0
    assert dialogs == []


def test_a_post_without_the_csrf_token_is_refused(site: Site, watched: Page) -> None:
    site.sign_in(watched, "dora")
    r = watched.request.post(
        site.url + "/processors/formalang/suspend",
        form={"reason": "forged"},
        headers={"Origin": site.url},
    )
    assert r.status == 403
    watched.goto(site.url + "/processors/formalang")
    expect(watched.locator(".tag.ok").first).to_have_text("active")


def test_an_idle_session_expires(site: Site, watched: Page) -> None:
    site.sign_in(watched, "dora")
    site.world.advance(timedelta(minutes=31))
    watched.reload()
    watched.wait_for_url("**/login")
    expect(watched.get_by_role("button", name="Continue")).to_be_visible()


def test_keyboard_reaches_the_skip_link_first(site: Site, watched: Page) -> None:
    site.sign_in(watched, "dora")
    watched.keyboard.press("Tab")
    skip = watched.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    watched.keyboard.press("Enter")
    expect(watched.locator("main")).to_be_focused()


def test_every_page_has_no_serious_accessibility_violation(
    site: Site, watched: Page, shots: Path
) -> None:
    watched.goto(site.url + "/login")
    assert_accessible(watched)
    watched.screenshot(path=str(shots / "login.png"))
    with site.world.sessions.begin() as s:
        add_operator(
            s, login="newbie", role="auditor", password=PASSWORD, language="en",
            actor="operator:t", cost=PasswordCost.of(site.world.settings),
        )  # fmt: skip
    watched.get_by_label("Login").fill("newbie")
    watched.get_by_label("Password").fill(PASSWORD)
    watched.get_by_role("button", name="Continue").click()
    watched.wait_for_url("**/login/second-factor")
    expect(watched.locator("svg")).to_be_visible()  # the enrolment QR code
    assert_accessible(watched)
    watched.screenshot(path=str(shots / "enrol.png"))
    site.sign_in(watched, "dora")
    for path, name in (
        ("/", None),
        ("/processors", "processors"),
        ("/processors/formalang", None),
        ("/alerts", "alerts"),
        ("/audit", "audit"),
        ("/processors/nobody", None),
    ):
        watched.goto(site.url + path)
        assert_accessible(watched)
        if name:
            watched.screenshot(path=str(shots / f"{name}.png"))
