"""Security keys (WebAuthn): enrol one at first sign-in or from the account page, sign in
with it, and every way a forged, replayed, phished or cloned answer is refused. The
answers are real (a software authenticator, :mod:`tests.console.softkey`); the server's
checks are py_webauthn's, untouched."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import select

from tests.console.conftest import PASSWORD, Client, Desk, csrf_of
from tests.console.softkey import SoftKey, b64url, unb64url
from vigie.audit.actions import Action
from vigie.audit.models import AuditEvent
from vigie.console.models import SecurityKey
from vigie.console.operators import list_operators, reset_second_factor

ORIGIN = "http://console.test"


def _password(desk: Desk, login: str) -> tuple[Client, str]:
    """A client past the password, and the second-factor page's anti-forgery token."""
    client = desk.client()
    r = client.post("/login", data={"login": login, "password": PASSWORD})
    assert r.status_code == 303
    page = client.get("/login/second-factor")
    assert page.status_code == 200
    found = re.search(r'data-csrf="([^"]+)"', page.text)
    return client, found.group(1) if found else csrf_of(page.text)


def _options(client: Client, url: str, csrf: str) -> dict[str, Any]:
    r = client.post(url, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    options: dict[str, Any] = r.json()
    return options


def _answer(client: Client, url: str, csrf: str, credential: dict[str, Any], name: str = "") -> Any:
    return client.post(
        url,
        content=json.dumps({"credential": credential, "name": name}),
        headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"},
    )


def _enrol_at_first_sign_in(desk: Desk, login: str, key: SoftKey) -> Client:
    client, csrf = _password(desk, login)
    options = _options(client, "/login/security-key/enrol/options", csrf)
    assert options["rp"]["id"] == "console.test"
    r = _answer(
        client, "/login/security-key/enrol", csrf, key.create(options, origin=ORIGIN), "Blue key"
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"next": "/"}
    return client


def _events(desk: Desk, action: Action) -> list[dict[str, Any]]:
    with desk.world.sessions() as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.action == action.value))
        return [{"actor": e.actor, **json.loads(e.detail or "{}")} for e in rows]


def test_a_security_key_enrolled_at_first_sign_in_signs_in_instead_of_totp(desk: Desk) -> None:
    desk.operator("alice", "dpo")
    key = SoftKey()
    client = _enrol_at_first_sign_in(desk, "alice", key)
    assert client.get("/").status_code == 200
    [enrol] = _events(desk, Action.OPERATOR_ENROL)
    assert enrol == {
        "actor": "operator:alice", "login": "alice", "factor": "webauthn", "key": "Blue key"
    }  # fmt: skip
    with desk.world.sessions() as s:
        assert [o.second_factor for o in list_operators(s)] == ["security key"]

    # The next sign-in offers the key, not a TOTP form (none was enrolled).
    client, csrf = _password(desk, "alice")
    page = client.get("/login/second-factor").text
    assert "Sign in with a security key" in page and 'name="code"' not in page
    assert (
        client.post("/login/second-factor", data={"code": "123456", "csrf": csrf}).status_code
        == 401
    )
    options = _options(client, "/login/security-key/options", csrf)
    assert [c["id"] for c in options["allowCredentials"]] == [b64url(key.credential_id)]
    r = _answer(client, "/login/security-key", csrf, key.get(options, origin=ORIGIN))
    assert r.status_code == 200, r.text
    assert client.get("/").status_code == 200
    with desk.world.sessions() as s:
        stored = s.scalars(select(SecurityKey)).one()
        assert stored.sign_count == 1 and stored.last_used_at is not None


def test_forged_replayed_phished_and_cloned_answers_are_refused(desk: Desk) -> None:
    desk.operator("alice", "dpo")
    key = SoftKey()
    _enrol_at_first_sign_in(desk, "alice", key)
    client, csrf = _password(desk, "alice")

    def refused(credential: dict[str, Any]) -> None:
        r = _answer(client, "/login/security-key", csrf, credential)
        assert r.status_code == 401, r.text
        assert client.get("/").status_code == 303  # still half-way: no session

    # A phishing page's origin, and a key made for another relying party.
    options = _options(client, "/login/security-key/options", csrf)
    refused(key.get(options, origin="https://console.evil.example"))
    options = _options(client, "/login/security-key/options", csrf)
    refused(key.get(options, origin=ORIGIN, rp_id="evil.example"))
    # A key nobody enrolled.
    options = _options(client, "/login/security-key/options", csrf)
    refused(SoftKey().get(options, origin=ORIGIN))
    # A signature altered by one byte.
    options = _options(client, "/login/security-key/options", csrf)
    bad = key.get(options, origin=ORIGIN)
    signed = bytearray(unb64url(bad["response"]["authenticatorData"]))
    signed[-1] ^= 0x01  # the counter's last byte: no longer what was signed
    bad["response"]["authenticatorData"] = b64url(bytes(signed))
    refused(bad)
    # (Past 5 failures the account's sign-in is throttled: the next refusals are Bob's.)
    desk.operator("bob", "dpo")
    key = SoftKey()
    _enrol_at_first_sign_in(desk, "bob", key)
    client, csrf = _password(desk, "bob")
    # A good answer, used twice: the challenge is good once.
    options = _options(client, "/login/security-key/options", csrf)
    good = key.get(options, origin=ORIGIN)
    assert _answer(client, "/login/security-key", csrf, good).status_code == 200
    client, csrf = _password(desk, "bob")
    refused(good)
    # A clone whose counter lags behind the real key's.
    clone = SoftKey(private=key.private, credential_id=key.credential_id, count=0)
    options = _options(client, "/login/security-key/options", csrf)
    refused(clone.get(options, origin=ORIGIN))
    # Without options first, there is no challenge to answer.
    refused(key.get({"rpId": "console.test", "challenge": "AAAA"}, origin=ORIGIN))


def test_first_enrolment_is_refused_once_a_factor_exists(desk: Desk) -> None:
    desk.operator("alice", "dpo")
    desk.sign_in("alice")  # TOTP enrolled
    client, csrf = _password(desk, "alice")
    r = client.post("/login/security-key/enrol/options", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403
    # Without options, an answer has no challenge: refused, nothing stored.
    r = _answer(client, "/login/security-key/enrol", csrf, SoftKey().create(
        {"rp": {"id": "console.test"}, "challenge": "AAAA"}, origin=ORIGIN))  # fmt: skip
    assert r.status_code == 401
    with desk.world.sessions() as s:
        assert s.scalars(select(SecurityKey)).all() == []


def test_keys_added_and_removed_from_the_account_page_are_audited(desk: Desk) -> None:
    desk.operator("sam", "auditor")  # any role manages its own keys
    client = desk.sign_in("sam")
    csrf = desk.csrf(client, "/account/security-keys")
    key = SoftKey()
    options = _options(client, "/account/security-keys/options", csrf)
    r = _answer(
        client, "/account/security-keys", csrf, key.create(options, origin=ORIGIN), "Red <b>"
    )
    assert r.status_code == 200 and r.json() == {"next": "/account/security-keys"}
    page = client.get("/account/security-keys").text
    assert "Red &lt;b&gt;" in page
    # The same key twice is refused.
    options = _options(client, "/account/security-keys/options", csrf)
    assert options["excludeCredentials"]
    r = _answer(client, "/account/security-keys", csrf, key.create(options, origin=ORIGIN))
    assert r.status_code == 400
    with desk.world.sessions() as s:
        [stored] = s.scalars(select(SecurityKey)).all()
    r = client.post(f"/account/security-keys/{stored.id}/remove", data={"csrf": csrf})
    assert r.status_code == 303
    assert _events(desk, Action.OPERATOR_KEY_REMOVE) == [
        {"actor": "operator:sam", "login": "sam", "key": "Red <b>"}
    ]
    assert "No security key yet." in client.get("/account/security-keys").text


def test_the_only_factor_cannot_be_removed_and_another_operators_key_is_not_found(
    desk: Desk,
) -> None:
    desk.operator("alice", "dpo")
    client = _enrol_at_first_sign_in(desk, "alice", SoftKey())
    csrf = desk.csrf(client, "/account/security-keys")
    with desk.world.sessions() as s:
        [stored] = s.scalars(select(SecurityKey)).all()
    r = client.post(f"/account/security-keys/{stored.id}/remove", data={"csrf": csrf})
    assert r.status_code == 400 and "only second factor" in r.text
    desk.operator("bob", "dpo")
    bob = desk.sign_in("bob")
    r = bob.post(f"/account/security-keys/{stored.id}/remove", data={"csrf": desk.csrf(bob)})
    assert r.status_code == 404
    assert _events(desk, Action.OPERATOR_KEY_REMOVE) == []


def test_reset_2fa_forgets_the_keys(desk: Desk) -> None:
    desk.operator("alice", "dpo")
    _enrol_at_first_sign_in(desk, "alice", SoftKey())
    with desk.world.sessions.begin() as s:
        reset_second_factor(s, login="alice", actor="operator:root")
    with desk.world.sessions() as s:
        assert s.scalars(select(SecurityKey)).all() == []
        assert [o.second_factor for o in list_operators(s)] == ["to enrol"]
    [reset] = _events(desk, Action.OPERATOR_RESET)
    assert reset["security_keys"] == 1
    client, _csrf = _password(desk, "alice")
    assert 'class="secret"' in client.get("/login/second-factor").text  # enrols again


def _enrol_button(html: str) -> dict[str, str]:
    found = re.search(r'<button type="button" data-ceremony="create"([^>]*)>([^<]*)</button>', html)
    assert found, "no enrolment button"
    attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', found.group(1)))
    return {**attrs, "text": found.group(2)}


def test_both_pages_enrol_a_key_through_the_one_partial(desk: Desk) -> None:
    desk.operator("kim", "dpo")
    first, _csrf = _password(desk, "kim")
    at_sign_in = first.get("/login/second-factor").text
    desk.operator("sam", "auditor")
    account = desk.sign_in("sam").get("/account/security-keys").text
    for html, options, submit, status, text in (
        (at_sign_in, "/login/security-key/enrol/options", "/login/security-key/enrol",
         "enrol-status", "Enrol this security key"),
        (account, "/account/security-keys/options", "/account/security-keys",
         "add-status", "Add a security key"),
    ):  # fmt: skip
        button = _enrol_button(html)
        assert (button["data-options"], button["data-submit"]) == (options, submit)
        assert button["aria-describedby"] == status and button["text"] == text
        assert f'<p id="{status}" role="status"></p>' in html
        assert '<input id="key-name" name="name" maxlength="64" required>' in html
        assert html.count('data-ceremony="create"') == 1
