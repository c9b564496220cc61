"""Every response of a listener carries the security headers; a page may set its own CSP."""

from __future__ import annotations

from typing import Any

import anyio
import httpx

from vigie.http.headers import API_CSP, SECURITY_HEADERS
from vigie.http.limits import RequestLimits
from vigie.http.middleware import ListenerMiddleware

LIMITS = RequestLimits(max_line_bytes=8192, max_head_bytes=32768, max_body_bytes=1024)


def _app(headers: list[tuple[bytes, bytes]]) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


def _get(app: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=ListenerMiddleware(app, limits=LIMITS))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get("/")

    return anyio.run(go)


def test_every_response_gets_the_security_headers() -> None:
    r = _get(_app([]))
    for name, value in SECURITY_HEADERS:
        assert r.headers[name.decode()] == value.decode()
    assert r.headers["content-security-policy"] == API_CSP
    assert "default-src 'none'" in API_CSP and "frame-ancestors 'none'" in API_CSP
    assert r.headers["x-content-type-options"] == "nosniff"


def test_a_response_may_set_its_own_policy_and_it_is_not_doubled() -> None:
    own = b"default-src 'none'; script-src 'self'"
    r = _get(_app([(b"content-security-policy", own)]))
    assert r.headers.get_list("content-security-policy") == [own.decode()]
    assert r.headers["x-frame-options"] == "DENY"
