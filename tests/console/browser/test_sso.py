"""Single sign-on in Chromium: the console (on localhost) sends the browser to an
identity provider on another site (127.0.0.1), which sends it back; the short-lived
SameSite=Lax cookie comes back with it, and the SameSite=Strict session cookie set on
that cross-site return is in use from the next page on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from pydantic import SecretStr

from tests.browser import assert_accessible
from tests.console.browser.conftest import PASSWORD, Site, _serving
from tests.console.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, serving
from vigie.console.app import create_app
from vigie.console.operators import add_operator

pytestmark = pytest.mark.browser


@pytest.fixture
def sso_console(site: Site) -> Iterator[tuple[str, Provider]]:
    """A console of ``site``'s instance with single sign-on, and its provider."""
    world = site.world
    with serving(clock=lambda: world.now.timestamp()) as idp:
        settings = world.settings.model_copy(
            update={
                "console_oidc_issuer": idp.issuer,
                "console_oidc_client_id": CLIENT_ID,
                "console_oidc_client_secret": SecretStr(CLIENT_SECRET),
                "console_oidc_label": "OFII Connect",
            }
        )
        app = create_app(settings, engine=world.engine, secrets=world.secrets, clock=world.clock)
        with _serving(app) as url:
            yield url.replace("127.0.0.1", "localhost"), idp


def test_an_operator_signs_in_through_the_identity_provider(
    site: Site, sso_console: tuple[str, Provider], watched: Page
) -> None:
    url, idp = sso_console
    with site.world.sessions.begin() as s:
        add_operator(
            s, login="olga", role="security", password=PASSWORD, language="en",
            actor="operator:test",
        )  # fmt: skip
    idp.user = {"preferred_username": "olga"}
    watched.goto(url + "/login")
    assert_accessible(watched)
    watched.get_by_role("link", name="Sign in with OFII Connect").click()
    watched.wait_for_url(url + "/")
    expect(watched.get_by_role("heading", level=1)).to_have_text("Overview")
    expect(watched.get_by_text("olga (security)")).to_be_visible()
    watched.reload()  # the session cookie holds
    expect(watched.get_by_role("heading", level=1)).to_have_text("Overview")


def test_an_unknown_login_is_refused_in_the_browser(
    sso_console: tuple[str, Provider], watched: Page
) -> None:
    url, idp = sso_console
    idp.user = {"preferred_username": "nobody-here"}
    watched.goto(url + "/login")
    watched.get_by_role("link", name="Sign in with OFII Connect").click()
    expect(watched.get_by_role("alert")).to_contain_text("Single sign-on refused")
    watched.goto(url + "/")
    watched.wait_for_url("**/login")
