"""Single sign-on by OpenID Connect against a real (tiny) provider on loopback: the
operator must exist and be enabled, and a wrong state, nonce, audience, issuer, key,
expiry or a replayed code is refused (fail closed)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from joserfc.jwk import RSAKey
from pydantic import SecretStr

from tests.console.conftest import Client, Desk
from tests.console.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, serving
from vigie.console.app import create_app
from vigie.console.operators import disable_operator

EN = {"accept-language": "en"}  # the pages' words, in the tests' language


@pytest.fixture
def idp(desk: Desk) -> Iterator[Provider]:
    with serving(clock=lambda: desk.world.now.timestamp()) as provider:
        yield provider


def _sso_desk(desk: Desk, idp: Provider, **settings: Any) -> Desk:
    """``desk`` with a console configured for ``idp``."""
    configured = desk.world.settings.model_copy(
        update={
            "console_oidc_issuer": idp.issuer,
            "console_oidc_client_id": CLIENT_ID,
            "console_oidc_client_secret": SecretStr(CLIENT_SECRET),
            "console_oidc_label": "OFII Connect",
            **settings,
        }
    )
    world = desk.world
    app = create_app(configured, engine=world.engine, secrets=world.secrets, clock=world.clock)
    return Desk(world=world, app=app)


def _round_trip(client: Client, *, tamper: dict[str, str] | None = None) -> httpx.Response:
    """Start at the console, go through the provider, come back; the callback's answer."""
    r = client.get("/login/sso")
    assert r.status_code == 303, r.text
    at_provider = httpx.get(r.headers["location"])
    assert at_provider.status_code == 302
    back = httpx.URL(at_provider.headers["location"])
    assert back.path == "/login/sso/callback"
    params = dict(back.params)
    params.update(tamper or {})
    return client.get(back.path, params=params, headers=EN)


def test_an_enabled_operator_signs_in_through_the_provider(desk: Desk, idp: Provider) -> None:
    sso = _sso_desk(desk, idp)
    desk.operator("alice", "dpo")
    client = sso.client()
    assert "Sign in with <bdi>OFII Connect</bdi>" in client.get("/login", headers=EN).text
    assert client.get("/").status_code == 303
    r = _round_trip(client)
    assert r.status_code == 200, r.text
    assert 'http-equiv="refresh" content="0; url=/"' in r.text
    page = client.get("/")
    assert page.status_code == 200 and "alice" in page.text
    # The code was good once: the same callback again is refused.
    r = client.get("/login/sso/callback", params={"code": "used", "state": "x"})
    assert r.status_code == 401


@pytest.mark.parametrize(
    "mischief",
    ["unknown login", "disabled", "state", "no cookie", "nonce", "audience", "issuer",
     "foreign key", "expired", "provider error"],
)  # fmt: skip
def test_sign_in_is_refused(desk: Desk, idp: Provider, mischief: str) -> None:
    sso = _sso_desk(desk, idp)
    desk.operator("alice", "dpo")
    client = sso.client()
    tamper: dict[str, str] = {}
    if mischief == "unknown login":
        idp.user = {"preferred_username": "mallory"}
    elif mischief == "disabled":
        with desk.world.sessions.begin() as s:
            disable_operator(s, login="alice", actor="operator:test")
    elif mischief == "state":
        tamper = {"state": "forged-state"}
    elif mischief == "nonce":
        idp.nonce_override = "another-nonce"
    elif mischief == "audience":
        idp.audience = "another-client"
    elif mischief == "issuer":
        idp.issuer_in_token = "http://idp.evil.example"
    elif mischief == "foreign key":
        idp.signing_key = RSAKey.generate_key(2048)
    elif mischief == "expired":
        idp.expires_in = -120
    elif mischief == "provider error":
        tamper = {"error": "access_denied"}
    if mischief == "no cookie":  # another browser comes back with this one's code
        r = client.get("/login/sso")
        back = httpx.URL(httpx.get(r.headers["location"]).headers["location"])
        r = sso.client().get(back.path, params=dict(back.params), headers=EN)
    else:
        r = _round_trip(client, tamper=tamper)
    assert r.status_code == 401, r.text
    assert "Single sign-on refused" in r.text
    assert client.get("/").status_code == 303  # no session


def test_a_configured_role_claim_must_hold_the_operators_role(desk: Desk, idp: Provider) -> None:
    sso = _sso_desk(desk, idp, console_oidc_role_claim="roles")
    desk.operator("alice", "dpo")
    idp.user = {"preferred_username": "alice", "roles": ["security"]}
    assert _round_trip(sso.client()).status_code == 401
    idp.user = {"preferred_username": "alice"}
    assert _round_trip(sso.client()).status_code == 401
    idp.user = {"preferred_username": "Alice", "roles": ["staff", "dpo"]}
    assert _round_trip(sso.client()).status_code == 200


def test_without_settings_there_is_no_single_sign_on(desk: Desk) -> None:
    client = desk.client()
    assert "/login/sso" not in client.get("/login").text
    assert client.get("/login/sso").status_code == 404
    assert client.get("/login/sso/callback", params={"code": "c", "state": "s"}).status_code == 404


def test_an_unreachable_provider_is_said_so(desk: Desk) -> None:
    with serving() as gone:
        issuer = gone.issuer
    sso = _sso_desk(desk, gone)
    assert issuer == gone.issuer
    r = sso.client().get("/login/sso", headers=EN)
    assert r.status_code == 502 and "could not be reached" in r.text
