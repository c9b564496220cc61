"""A processor's keys from the console: issued (token shown once, working), revoked."""

from __future__ import annotations

import re

from sqlalchemy import select

from tests.console.conftest import Desk
from vigie.audit.models import AuditEvent
from vigie.processors.models import ApiKey

LIST = "/api/v1/subjects"
TOKEN = re.compile(r'<code class="secret" id="token">(vgk_[^<]+)</code>')


def test_security_issues_a_key_whose_token_is_shown_once_and_works(desk: Desk) -> None:
    w = desk.world
    w.processor("formalang")
    desk.operator("sam", "security", language="en")
    client = desk.sign_in("sam")
    token = desk.csrf(client, "/processors/formalang")
    r = client.post(
        "/processors/formalang/keys",
        data={"csrf": token, "expires_in": "30d", "allowed": "192.0.2.0/24", "note": "batch"},
    )
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    found = TOKEN.search(r.text)
    assert found, r.text
    key = found.group(1)
    assert w.api().get(LIST, token=key).status_code == 200
    assert w.api(client_ip="198.51.100.7").get(LIST, token=key).status_code == 403
    page = client.get("/processors/formalang").text
    assert key not in page and key.split("_", 2)[2] not in page  # never shown again
    with w.sessions() as s:
        stored = s.scalars(select(ApiKey)).one()
        [event] = s.scalars(select(AuditEvent).where(AuditEvent.action == "key:issue"))
    assert stored.note == "batch" and stored.expires_at is not None
    assert event.actor == "operator:sam"


def test_a_bad_duration_is_refused(desk: Desk) -> None:
    desk.world.processor("formalang")
    desk.operator("sam", "security", language="en")
    client = desk.sign_in("sam")
    token = desk.csrf(client, "/processors/formalang")
    r = client.post("/processors/formalang/keys", data={"csrf": token, "expires_in": "soon"})
    assert r.status_code == 400 and "bad duration" in r.text
    with desk.world.sessions() as s:
        assert s.scalars(select(ApiKey)).first() is None


def test_security_revokes_a_key_of_that_processor_only(desk: Desk) -> None:
    w = desk.world
    w.processor("formalang")
    w.processor("lingua")
    key = w.key("formalang")
    other = w.key("lingua")
    with w.sessions() as s:
        formalang_key, lingua_key = sorted(s.scalars(select(ApiKey.id)))  # in issue order
    desk.operator("sam", "security", language="en")
    client = desk.sign_in("sam")
    token = desk.csrf(client, "/processors/formalang")
    wrong = client.post(f"/processors/formalang/keys/{lingua_key}/revoke", data={"csrf": token})
    assert wrong.status_code == 404
    assert w.api().get(LIST, token=other).status_code == 200
    r = client.post(f"/processors/formalang/keys/{formalang_key}/revoke", data={"csrf": token})
    assert r.status_code == 303
    assert w.api().get(LIST, token=key).status_code == 403
    with w.sessions() as s:
        [event] = s.scalars(select(AuditEvent).where(AuditEvent.action == "key:revoke"))
    assert event.actor == "operator:sam" and event.key_id == formalang_key
    page = client.get("/processors/formalang").text
    assert f"/keys/{formalang_key}/revoke" not in page  # nothing left to revoke
