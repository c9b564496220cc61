"""Sign-in (password, then TOTP enrolled at first sign-in), sessions, throttling, sign-out."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.console.conftest import PASSWORD, SECRET_IN_PAGE, Client, Desk, csrf_of
from vigie.audit.actions import Action
from vigie.audit.models import AuditEvent
from vigie.console.operators import disable_operator
from vigie.console.sessions import COOKIE


def _password_step(desk: Desk, login: str, password: str = PASSWORD) -> Client:
    client = desk.client()
    r = client.post("/login", data={"login": login, "password": password})
    assert r.status_code == 303 and r.headers["location"] == "/login/second-factor"
    return client


def test_first_sign_in_enrols_totp_then_opens_a_new_session(desk: Desk) -> None:
    desk.operator("alice", "dpo")
    client = _password_step(desk, "alice")
    partial = client.cookies[COOKIE]
    assert client.get("/").status_code == 303  # no page before the second factor
    page = client.get("/login/second-factor")
    assert page.status_code == 200
    assert "<svg" in page.text and SECRET_IN_PAGE.search(page.text)
    desk.secrets["alice"] = SECRET_IN_PAGE.search(page.text).group(1)  # type: ignore[union-attr]
    r = client.post(
        "/login/second-factor", data={"code": desk.code("alice"), "csrf": csrf_of(page.text)}
    )
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert client.cookies[COOKIE] != partial  # a new session, not the half-signed one
    assert client.get("/").status_code == 200
    with desk.world.sessions() as s:
        [enrol] = s.scalars(select(AuditEvent).where(AuditEvent.action == Action.OPERATOR_ENROL))
    assert enrol.actor == "operator:alice"
    # The half-signed session is over.
    stale = desk.client()
    stale.cookies.set(COOKIE, partial, domain="console.test")
    assert stale.get("/login/second-factor").status_code == 303


def test_later_sign_ins_ask_the_code_only_and_refuse_a_replayed_code(desk: Desk) -> None:
    desk.operator("alice", "dpo")
    desk.sign_in("alice")
    used = desk.code("alice")
    client = _password_step(desk, "alice")
    page = client.get("/login/second-factor")
    assert "<svg" not in page.text and not SECRET_IN_PAGE.search(page.text)
    r = client.post("/login/second-factor", data={"code": used, "csrf": csrf_of(page.text)})
    assert r.status_code == 401
    assert client.get("/").status_code == 303


@pytest.mark.parametrize("login", ["alice", "nobody"])
def test_wrong_password_or_unknown_login_get_the_same_answer(desk: Desk, login: str) -> None:
    desk.operator("alice", "dpo")
    r = desk.client().post(
        "/login",
        data={"login": login, "password": "not the password"},
        headers={"Accept-Language": "en-GB,en;q=0.9"},
    )
    assert r.status_code == 401
    assert "Sign-in refused: the login or the password is wrong" in r.text
    assert COOKIE not in r.headers.get("set-cookie", "")


def test_a_wrong_code_is_refused(desk: Desk) -> None:
    desk.operator("alice", "dpo")
    client = _password_step(desk, "alice")
    page = client.get("/login/second-factor")
    r = client.post("/login/second-factor", data={"code": "000000", "csrf": csrf_of(page.text)})
    assert r.status_code == 401
    assert client.get("/").status_code == 303


def test_sign_in_is_throttled_per_account(desk: Desk) -> None:
    desk.operator("alice", "dpo")
    client = desk.client()
    for _ in range(5):
        r = client.post("/login", data={"login": "alice", "password": "wrong password!"})
        assert r.status_code == 401
    # Now even the right password waits.
    r = client.post("/login", data={"login": "alice", "password": PASSWORD})
    assert r.status_code == 429
    assert "Trop d’essais manqués" in r.text  # French unless the browser asks otherwise


def test_sign_in_is_throttled_per_address(desk: Desk) -> None:
    desk.operator("alice", "dpo")
    client = desk.client()
    for i in range(20):
        r = client.post("/login", data={"login": f"guess{i}", "password": "wrong password!"})
        assert r.status_code == 401
    assert client.post("/login", data={"login": "alice", "password": PASSWORD}).status_code == 429


def test_disabled_operator_loses_the_session_and_cannot_sign_in(desk: Desk) -> None:
    desk.operator("alice", "dpo")
    client = desk.sign_in("alice")
    with desk.world.sessions.begin() as s:
        disable_operator(s, login="alice", actor="operator:test")
    assert client.get("/").status_code == 303
    r = desk.client().post("/login", data={"login": "alice", "password": PASSWORD})
    assert r.status_code == 401


def test_sign_out_revokes_the_session(desk: Desk) -> None:
    desk.operator("alice", "dpo")
    client = desk.sign_in("alice")
    cookie = client.cookies[COOKIE]
    r = client.post("/logout", data={"csrf": desk.csrf(client)})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    replay = desk.client()
    replay.cookies.set(COOKIE, cookie, domain="console.test")
    assert replay.get("/").status_code == 303


def test_idle_session_expires(desk: Desk) -> None:
    desk.operator("alice", "dpo")
    client = desk.sign_in("alice")
    desk.world.advance(timedelta(minutes=29))
    assert client.get("/").status_code == 200  # use keeps it alive
    desk.world.advance(timedelta(minutes=29))
    assert client.get("/").status_code == 200
    desk.world.advance(timedelta(minutes=31))
    r = client.get("/")
    assert r.status_code == 303 and r.headers["location"] == "/login"


def test_session_ends_at_the_absolute_limit_however_used(desk: Desk) -> None:
    desk.operator("alice", "dpo")
    client = desk.sign_in("alice")
    for _ in range(35):  # 35 × 20 min = 11 h 40 min
        desk.world.advance(timedelta(minutes=20))
        assert client.get("/audit").status_code == 200
    desk.world.advance(timedelta(minutes=20))  # 12 h
    assert client.get("/audit").status_code == 303


def test_a_forged_cookie_is_not_a_session(desk: Desk) -> None:
    desk.operator("alice", "dpo")
    client = desk.sign_in("alice")
    token, mac = client.cookies[COOKIE].split(".")
    forged = desk.client()
    other = "B" if token[0] == "A" else "A"  # a token one character off, never the same
    forged.cookies.set(COOKIE, f"{other}{token[1:]}.{mac}", domain="console.test")
    assert forged.get("/").status_code == 303


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_cookie_flags(desk: Desk, scheme: str) -> None:
    desk.operator("alice", "dpo")
    client = Client(desk.app, base_url=f"{scheme}://console.test")
    r = client.post("/login", data={"login": "alice", "password": PASSWORD})
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    assert ("secure" in cookie) == (scheme == "https")


def test_session_rows_hold_no_token(desk: Desk) -> None:
    from vigie.console.models import OperatorSession

    desk.operator("alice", "dpo")
    client = desk.sign_in("alice")
    token = client.cookies[COOKIE].split(".")[0]
    with desk.world.sessions() as s:
        rows = list(s.scalars(select(OperatorSession)))
    assert rows and all(token not in json.dumps([r.token_hash, r.csrf]) for r in rows)


def test_sign_in_purges_the_rows_of_sessions_that_are_over(desk: Desk) -> None:
    from vigie.console.models import OperatorSession

    desk.operator("alice", "dpo")
    first = desk.sign_in("alice")
    first.post("/logout", data={"csrf": desk.csrf(first)})  # revoked
    desk.sign_in("alice")  # live, then idle past the limit
    desk.world.advance(timedelta(minutes=31))
    live = desk.sign_in("alice")
    with desk.world.sessions() as s:
        rows = list(s.scalars(select(OperatorSession)))
    # The live full session; the half-signed one it replaced (revoked) is purged next time.
    assert len(rows) == 2 and sum(r.revoked_at is None for r in rows) == 1
    assert live.get("/").status_code == 200
