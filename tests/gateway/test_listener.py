"""The gateway as a listener: size limits, security headers, aborted requests, its docs page.

In-process here (httpx's ASGI transport, or the raw ASGI calls a server makes); the same
over a real socket and the real server in tests/gateway/test_serve.py.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import func, select

from tests.gateway.conftest import World
from vigie.audit.models import AuditEvent
from vigie.fingerprint.pseudonyms import Pseudonymiser
from vigie.gateway.problems import PROBLEM_JSON

SUBJECTS = "/api/v1/subjects"


def _setup(world: World) -> tuple[str, str]:
    ids = world.people(2)
    world.assign(world.processor("lingua"), ids)
    token = world.key("lingua")
    return token, Pseudonymiser(world.secrets, world.processor_id("lingua")).encode(ids[0])


def _audit_count(world: World) -> int:
    with world.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(AuditEvent)) or 0)


def test_a_one_megabyte_header_is_refused_before_anything_runs(world: World) -> None:
    token, pseudonym = _setup(world)
    api = world.api()
    before = _audit_count(world)
    for headers in ({"x-filler": "a" * 1_000_000}, {"x-filler": "a" * 8200}):
        r = api.get(f"{SUBJECTS}/{pseudonym}", token=token, headers=headers)
        assert r.status_code == 431, r.text
        assert r.headers["content-type"] == PROBLEM_JSON
        assert r.json()["type"].endswith("/header-too-large")
    many = {f"x-filler-{i}": "a" * 8000 for i in range(5)}  # each line fits, not all together
    assert api.get(f"{SUBJECTS}/{pseudonym}", token=token, headers=many).status_code == 431
    assert _audit_count(world) == before  # nothing disclosed, nothing recorded
    fits = {"x-filler": "a" * 8000}
    assert api.get(f"{SUBJECTS}/{pseudonym}", token=token, headers=fits).status_code == 200


def test_a_long_url_is_414(world: World) -> None:
    token, _ = _setup(world)
    r = world.api().get(f"{SUBJECTS}/{'a' * 9000}", token=token)
    assert r.status_code == 414 and r.headers["content-type"] == PROBLEM_JSON


def test_a_body_past_the_limit_is_413_even_before_the_key_is_checked(world: World) -> None:
    _, pseudonym = _setup(world)
    huge = b'{"attendance_hours": 1, "x": "' + b"a" * 100_000 + b'"}'
    r = world.api().post(
        f"{SUBJECTS}/{pseudonym}/events", content=huge, headers={"content-type": "application/json"}
    )
    assert r.status_code == 413 and r.headers["content-type"] == PROBLEM_JSON


def test_every_answer_carries_the_security_headers(world: World) -> None:
    token, pseudonym = _setup(world)
    api = world.api()
    answers = [
        api.get("/api/v1/health"),
        api.get(f"{SUBJECTS}/{pseudonym}", token=token),
        api.get(f"{SUBJECTS}/{pseudonym}"),
        api.get("/api/v1/nothing"),
        api.get("/api/v1/openapi.json"),
        api.get(SUBJECTS, token=token, headers={"x-filler": "a" * 9000}),
    ]
    for r in answers:
        assert r.headers["x-content-type-options"] == "nosniff", r.url
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert "default-src 'none'" in r.headers["content-security-policy"]
        assert "server" not in r.headers


def _raw_post(app: Any, path: str, headers: list[tuple[bytes, bytes]], parts: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
    """Call ``app`` as a server does, the client sending ``parts`` then going away."""
    sent: list[dict[str, Any]] = []
    messages = iter(parts)

    async def receive() -> dict[str, Any]:
        try:
            return next(messages)
        except StopIteration:
            await anyio.sleep_forever()
            raise AssertionError("unreachable") from None

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("192.0.2.10", 40000),
        "server": ("127.0.0.1", 8000),
    }
    anyio.run(app, scope, receive, send)
    return sent


def test_a_client_that_leaves_while_its_body_is_read_is_an_aborted_request(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    token, pseudonym = _setup(world)
    before = _audit_count(world)
    headers = [
        (b"host", b"gw"),
        (b"authorization", f"Bearer {token}".encode()),
        (b"content-type", b"application/json"),
        (b"content-length", b"64"),
    ]
    parts = [
        {"type": "http.request", "body": b'{"attendance_', "more_body": True},
        {"type": "http.disconnect"},
    ]
    with caplog.at_level(logging.DEBUG):
        sent = _raw_post(world.app(), f"{SUBJECTS}/{pseudonym}/events", headers, parts)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert any("aborted" in r.getMessage() for r in caplog.records)
    assert pseudonym not in caplog.text and token not in caplog.text
    assert _audit_count(world) == before  # nothing disclosed, nothing appended
    assert not [m for m in sent if m["type"] == "http.response.body" and m.get("body")]


# --- the interactive documentation -----------------------------------------------------

_SRC = re.compile(r'(?:src|href)="([^"]+)"')


def test_the_docs_page_loads_nothing_from_elsewhere(world: World) -> None:
    api = world.api()
    page = api.get("/api/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in csp and "http" not in csp and "*" not in csp
    html = page.text
    assert "<script>" not in html and " on" not in html.replace(" one", "")  # no inline code
    assert "<style" not in html and "style=" not in html
    assets = _SRC.findall(html)
    assert len(assets) >= 3
    for url in assets:
        assert url.startswith("/") and not url.startswith("//"), url  # this origin, no CDN
        r = api.get(url)
        assert r.status_code == 200, url
        assert r.headers["x-content-type-options"] == "nosniff"
        if url.endswith(".js"):
            assert r.headers["content-type"].startswith("text/javascript")
            assert "cdn.jsdelivr" not in r.text and "unpkg.com" not in r.text
        if url.endswith(".css"):
            assert r.headers["content-type"].startswith("text/css")
    script = api.get(next(u for u in assets if u.endswith("docs.js"))).text
    assert "/api/v1/openapi.json" in script or "data-openapi" in html
    assert "validatorUrl: null" in script  # no badge fetched from swagger.io
    assert api.get("/api/docs/assets/index.html").status_code == 404
    assert api.get("/api/docs/assets/..%2F..%2Fsettings.py").status_code == 404


def test_docs_can_be_turned_off(world: World) -> None:
    settings = world.settings.model_copy(update={"gateway_docs": False})
    from vigie.gateway.app import create_app

    app = create_app(settings, engine=world.engine, secrets=world.secrets, clock=world.clock)
    from tests.gateway.conftest import Api

    api = Api(app)
    assert api.get("/api/docs").status_code == 404
    assert api.get("/api/docs/assets/docs.js").status_code == 404
    assert api.get("/api/v1/openapi.json").status_code == 200  # the schema stays


def test_even_an_unhandled_error_answers_with_the_security_headers(world: World) -> None:
    app = world.app()

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    async def go() -> Any:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            return await client.get("/boom")

    r = anyio.run(go)
    assert r.status_code == 500
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in r.headers["content-security-policy"]


def test_the_served_swagger_ui_reads_the_schema_version_we_serve(world: World) -> None:
    # Swagger UI 4 shows "Unable to render this definition" for OpenAPI 3.1 (what FastAPI
    # writes); 5 reads it. Checked by eye in headless Chromium under the page's CSP.
    import swagger_ui_bundle

    schema = world.api().get("/api/v1/openapi.json").json()
    major = int(Path(swagger_ui_bundle.swagger_ui_path).name.removeprefix("swagger-ui-")[0])
    if schema["openapi"].startswith("3.1"):
        assert major >= 5, swagger_ui_bundle.swagger_ui_path
