"""Every listener bounds the request head and body before the app sees them.

Tested on a small ASGI app of the test's own (what the listener wraps), through the real
middleware; the gateway's own tests check it is in place there too, in-process and over a
socket (tests/gateway/test_listener.py, tests/gateway/test_serve.py).
"""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest

from vigie.http.limits import RequestLimits
from vigie.http.middleware import ListenerMiddleware

LIMITS = RequestLimits(max_line_bytes=1024, max_head_bytes=4096, max_body_bytes=2048)


async def _echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Reads the whole body and answers its length."""
    assert scope["type"] == "http"
    size, more = 0, True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


def _call(method: str, url: str, **kwargs: Any) -> httpx.Response:
    app = ListenerMiddleware(_echo, limits=LIMITS)

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.request(method, url, **kwargs)

    return anyio.run(go)


def test_requests_within_the_limits_pass() -> None:
    r = _call("POST", "/x", content=b"a" * 2048, headers={"x-big": "v" * 900})
    assert r.status_code == 200 and r.text == "2048"


@pytest.mark.parametrize(
    ("headers", "status", "slug"),
    [
        ({"x-big": "v" * 1100}, 431, "header-too-large"),
        ({f"x-h{i}": "v" * 900 for i in range(5)}, 431, "header-too-large"),
        ({"x-" + "n" * 1100: "v"}, 431, "header-too-large"),
    ],
)
def test_a_header_past_the_limits_is_431(headers: dict[str, str], status: int, slug: str) -> None:
    r = _call("GET", "/x", headers=headers)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"].endswith("/" + slug) and body["status"] == status
    assert "1024" in body["detail"] or "4096" in body["detail"]
    assert "vvvv" not in r.text  # the offending value is not echoed


def test_a_long_target_is_414() -> None:
    r = _call("GET", "/x?q=" + "a" * 1100)
    assert r.status_code == 414
    assert r.json()["type"].endswith("/uri-too-long")


def test_a_declared_body_past_the_limit_is_413_unread() -> None:
    r = _call("POST", "/x", content=b"a" * 2049)
    assert r.status_code == 413
    assert r.json()["type"].endswith("/body-too-large")


def test_a_streamed_body_past_the_limit_is_413() -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(5):
            yield b"a" * 1000

    r = _call("POST", "/x", content=chunks())  # chunked: no Content-Length
    assert r.status_code == 413
    assert r.json()["type"].endswith("/body-too-large")


def test_a_malformed_content_length_is_400() -> None:
    r = _call("POST", "/x", content=b"{}", headers={"content-length": "2x"})
    assert r.status_code == 400


def test_limits_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="max_head_bytes"):
        RequestLimits(max_line_bytes=8192, max_head_bytes=1024, max_body_bytes=1)
