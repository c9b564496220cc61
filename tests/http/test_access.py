"""Each request gets an id, one access line and its metrics, by route *template*."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import httpx
import pytest
from fastapi import Request
from prometheus_client import REGISTRY

from vigie.http.access import tag
from vigie.http.limits import RequestLimits
from vigie.http.listener import Listener
from vigie.ops.logs import REQUEST_ID
from vigie.ops.metrics import UNMATCHED

LIMITS = RequestLimits(max_line_bytes=8192, max_head_bytes=32768, max_body_bytes=64)
seen_ids: list[str | None] = []


def _listener(name: str) -> Listener:
    app = Listener(limits=LIMITS, name=name)

    @app.get("/people/{ref}")
    def person(ref: str, request: Request) -> dict[str, str]:
        seen_ids.append(REQUEST_ID.get())
        tag(request.scope, processor="lingua-idf")
        return {"ok": "yes"}

    @app.post("/people")
    async def post(request: Request) -> dict[str, str]:
        await request.body()
        return {"ok": "yes"}

    return app


def _call(app: Any, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("192.0.2.10", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.request(method, path, **kwargs)

    return anyio.run(go)


def _count(listener: str, route: str, status: str, method: str = "GET") -> float:
    labels = {"listener": listener, "route": route, "method": method, "status": status}
    return REGISTRY.get_sample_value("vigie_http_requests_total", labels) or 0.0


def _latencies(listener: str, route: str) -> float:
    labels = {"listener": listener, "route": route}
    return REGISTRY.get_sample_value("vigie_http_request_duration_seconds_count", labels) or 0.0


def test_request_metrics_by_route_template_never_by_path() -> None:
    app = _listener("t-metrics")
    before = _count("t-metrics", "/people/{ref}", "200")
    for ref in ("CIR00000001", "CIR00000002", "CIR00000003"):
        assert _call(app, "GET", f"/people/{ref}").status_code == 200
    assert _count("t-metrics", "/people/{ref}", "200") == before + 3
    assert _latencies("t-metrics", "/people/{ref}") >= 3
    _call(app, "GET", "/CIR00000009/unknown")
    assert _count("t-metrics", UNMATCHED, "404") >= 1
    exposed = _call(app, "GET", "/metrics").content  # loopback only: this client is not
    assert b"CIR0000000" not in exposed
    text = b"".join(f"{s.labels}".encode() for m in REGISTRY.collect() for s in m.samples)
    assert b"CIR0000000" not in text


def test_refused_requests_are_counted_with_their_status() -> None:
    app = _listener("t-refused")
    r = _call(app, "POST", "/people", content=b"x" * 500)
    assert r.status_code == 413
    assert _count("t-refused", UNMATCHED, "413", "POST") == 1


def test_request_id_is_echoed_when_it_looks_like_an_id_else_replaced() -> None:
    app = _listener("t-ids")
    given = "3f2a9c1e-0b4d-4e5f-9a8b-7c6d5e4f3a2b"
    r = _call(app, "GET", "/people/CIR1", headers={"X-Request-ID": given})
    assert r.headers["x-request-id"] == given
    assert seen_ids[-1] == given  # and every log line of the request carries it
    for hostile in ("amina.diallo@mail.example", "Amina Diallo", "CIR00000001"):
        r = _call(app, "GET", "/people/CIR1", headers={"X-Request-ID": hostile})
        assert r.headers["x-request-id"] != hostile
        assert len(r.headers["x-request-id"]) == 32
    fresh = {_call(app, "GET", "/people/CIR1").headers["x-request-id"] for _ in range(3)}
    assert len(fresh) == 3
    assert REQUEST_ID.get() is None  # reset once the request is over


def test_one_access_line_per_request_with_template_status_processor(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = _listener("t-log")
    with caplog.at_level(logging.INFO, logger="vigie.access"):
        r = _call(app, "GET", "/people/CIR00000042")
    lines = [rec for rec in caplog.records if rec.name == "vigie.access"]
    assert len(lines) == 1
    line = lines[0]
    assert line.route == "/people/{ref}"  # type: ignore[attr-defined]
    assert line.status == 200  # type: ignore[attr-defined]
    assert line.processor == "lingua-idf"  # type: ignore[attr-defined]
    assert line.listener == "t-log"  # type: ignore[attr-defined]
    assert line.duration_ms >= 0  # type: ignore[attr-defined]
    assert "CIR00000042" not in str(line.__dict__)
    assert r.headers["x-request-id"]
