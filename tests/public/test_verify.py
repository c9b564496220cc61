"""Verify a notice: a genuine code says which incident, when and how; every wrong code alike."""

from __future__ import annotations

import httpx
import pytest

from tests.public.conftest import Public
from vigie.public.app import create_app
from vigie.public.limiter import Limiter
from vigie.settings import Settings


def test_a_genuine_code_names_its_incident_date_and_channels(public: Public) -> None:
    code = public.code(1)  # Grace: e-mail and SMS
    with public.client() as c:
        r = c.post("/json/verify", json={"code": code.lower().replace("-", " ")})
        with_incident = c.post("/json/verify", json={"code": code, "incident": public.incident_id})
    assert r.status_code == 200
    assert r.json() == {
        "genuine": True,
        "notices": [
            {"incident": public.incident_id, "sent_on": "2026-01-12", "channels": ["email", "sms"]}
        ],
    }
    assert with_incident.json() == r.json()
    person = public.person(1)
    assert person.ref not in r.text and person.family_name not in r.text


def test_every_kind_of_wrong_code_answers_alike(public: Public) -> None:
    genuine = public.code(1)
    flipped = genuine[:-1] + ("0" if genuine[-1] != "0" else "1")
    cases = [
        {"code": "hello"},  # cannot be a code
        {"code": "ZZZZ-ZZZZ"},  # well formed, no such notice
        {"code": flipped},  # one character off
        {"code": genuine, "incident": public.incident_id + 1},  # genuine, wrong incident
        {"code": public.code(AFFECTED_NOT_SENT)},  # computed for a person never notified
    ]
    with public.client() as c:
        answers = [c.post("/json/verify", json=case) for case in cases]
    assert {(a.status_code, a.text) for a in answers} == {(200, '{"genuine":false,"notices":[]}')}
    # the same headers too, but for the request id each answer carries (vigie.http)
    assert len({tuple(sorted(_but_request_id(a.headers))) for a in answers}) == 1


def _but_request_id(headers: httpx.Headers) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers.items() if k != "x-request-id"]


AFFECTED_NOT_SENT = 12  # on file, never exposed, so never sent a notice


def test_the_page_verifies_without_javascript(public: Public) -> None:
    with public.client() as c:
        form = c.get("/verify?lang=en")
        assert '<form method="post" action="/verify"' in form.text
        good = c.post("/verify", data={"code": public.code(0), "lang": "en"})
        bad = c.post("/verify", data={"code": "ZZZZ-ZZZZ", "incident": "x", "lang": "en"})
        empty = c.post("/verify", data={"code": " ", "lang": "en"})
    assert good.status_code == 200 and "This notice is genuine" in good.text
    assert f'<bdi dir="ltr">{public.incident_id}</bdi>' in good.text
    assert "January 12, 2026" in good.text and "e-mail, SMS" in good.text
    assert bad.status_code == 200 and "We cannot confirm this notice" in bad.text
    assert empty.status_code == 400 and 'href="#code"' in empty.text


def test_codes_are_rate_limited_per_address(public: Public, settings: Settings) -> None:
    limiter = Limiter.from_settings(
        settings.model_copy(update={"public_rate_per_address": "3/minute"})
    )
    app = create_app(settings, engine=public.engine, secrets=public.secrets, limiter=limiter)
    other = Public(**{**public.__dict__, "app": app})
    with other.client("198.51.100.1") as c:
        got = [c.post("/json/verify", json={"code": "ZZZZ-ZZZZ"}).status_code for _ in range(4)]
        page = c.post("/verify", data={"code": "ZZZZ-ZZZZ"})
    assert got == [200, 200, 200, 429]
    assert page.status_code == 429 and int(page.headers["retry-after"]) > 0
    with other.client("198.51.100.2") as c:  # another address still has its own allowance
        assert c.post("/json/verify", json={"code": "ZZZZ-ZZZZ"}).status_code == 200


@pytest.mark.parametrize("path", ["/json/verify", "/json/self-check"])
def test_the_service_fails_closed_when_the_limiter_store_is_down(
    public: Public, settings: Settings, path: str
) -> None:
    dead = settings.model_copy(update={"public_limits_storage": "redis://127.0.0.1:9"})
    app = create_app(dead, engine=public.engine, secrets=public.secrets)
    other = Public(**{**public.__dict__, "app": app})
    body = {"code": public.code(0)} if path.endswith("verify") else {"contact": "a@example.org"}
    with other.client() as c:
        r = c.post(path, json=body)
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    assert "genuine" not in r.text


def test_the_public_url_is_the_notices_check_url(settings: Settings) -> None:
    s = Settings(public_url="https://verifier.controller.example/")
    assert s.notice_check_url == "https://verifier.controller.example/verify"
    explicit = Settings(public_url="https://v.example", notice_check_url="https://x.example/c")
    assert explicit.notice_check_url == "https://x.example/c"
