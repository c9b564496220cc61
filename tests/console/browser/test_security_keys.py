"""Security keys in Chromium: a virtual authenticator (DevTools' WebAuthn domain) enrols a
passkey at first sign-in and signs in with it, through the console's own script under
its strict CSP; the account page lists it."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser import assert_accessible
from tests.console.browser.conftest import PASSWORD, Site
from vigie.console.operators import add_operator

pytestmark = pytest.mark.browser


def _authenticator(page: Page) -> None:
    """A platform authenticator that always verifies the user (no touch needed)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )


def _password(page: Page, url: str, login: str) -> None:
    page.goto(url + "/login")
    page.get_by_label("Login").fill(login)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/login/second-factor")


def test_a_passkey_enrolled_at_first_sign_in_then_signs_in(
    site: Site, watched: Page, shots: Path
) -> None:
    # A relying party is a host name, never an IP address: the browser goes to localhost.
    url = site.url.replace("127.0.0.1", "localhost")
    with site.world.sessions.begin() as s:
        add_operator(
            s, login="kim", role="dpo", password=PASSWORD, language="en", actor="operator:test"
        )
    _authenticator(watched)
    _password(watched, url, "kim")
    watched.get_by_label("Name of the key (to tell your keys apart)").fill("Laptop passkey")
    assert_accessible(watched)
    watched.get_by_role("button", name="Enrol this security key").click()
    watched.wait_for_url(url + "/")
    expect(watched.get_by_role("heading", level=1)).to_have_text("Overview")

    watched.get_by_role("link", name="Security keys").click()
    expect(watched.get_by_role("cell", name="Laptop passkey", exact=True)).to_be_visible()
    assert_accessible(watched)
    watched.screenshot(path=str(shots / "security-keys.png"))
    watched.get_by_role("button", name="Sign out").click()

    _password(watched, url, "kim")
    expect(watched.get_by_label("Six-digit code from your authenticator app")).to_have_count(0)
    watched.get_by_role("button", name="Sign in with a security key").click()
    watched.wait_for_url(url + "/")
    expect(watched.get_by_role("heading", level=1)).to_have_text("Overview")
