"""/health, /ready and /metrics on a listener: who may read what, and what ready means."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import orjson

from vigie.http.limits import RequestLimits
from vigie.http.listener import Listener
from vigie.http.probes import Probes, ReadyCheck, networks

LIMITS = RequestLimits(max_line_bytes=8192, max_head_bytes=32768, max_body_bytes=1024)


def _listener(probes: Probes | None = None) -> Listener:
    app = Listener(limits=LIMITS, name="test", probes=probes)

    @app.get("/things/{name}")
    def thing(name: str) -> dict[str, str]:
        return {"ok": "yes"}

    return app


def _get(app: Any, path: str, *, client: str = "127.0.0.1") -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(client, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.get(path)

    return anyio.run(go)


def _broken() -> None:
    raise RuntimeError("the database at db.internal refused amina@mail.example")


def test_health_answers_while_the_process_serves_whatever_ready_says() -> None:
    app = _listener(Probes(checks=[ReadyCheck("store", _broken)]))
    r = _get(app, "/health", client="192.0.2.10")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert r.headers["x-content-type-options"] == "nosniff"  # the security headers too


def test_ready_names_the_failing_checks_and_nothing_of_their_errors() -> None:
    ran: list[str] = []
    app = _listener(
        Probes(
            checks=[
                ReadyCheck("store", lambda: ran.append("store")),
                ReadyCheck("audit", _broken),
                ReadyCheck("secrets", lambda: ran.append("secrets")),
            ]
        )
    )
    r = _get(app, "/ready")
    assert r.status_code == 503
    assert r.json() == {"status": "unready", "failed": ["audit"]}
    assert b"mail.example" not in r.content and b"db.internal" not in r.content
    assert ran == ["store", "secrets"]  # every check runs, not only up to the first failure


def test_ready_when_every_check_passes() -> None:
    app = _listener(Probes(checks=[ReadyCheck("store", lambda: None)]))
    r = _get(app, "/ready")
    assert r.status_code == 200 and r.json() == {"status": "ready"}


def test_metrics_only_for_allowed_addresses_else_a_plain_404() -> None:
    app = _listener(Probes(metrics_allow=networks(["10.1.0.0/16", "::1/128"])))
    _get(app, "/things/x", client="10.1.2.3")
    allowed = _get(app, "/metrics", client="10.1.2.3")
    assert allowed.status_code == 200
    assert allowed.headers["content-type"].startswith("text/plain")
    assert b"vigie_http_requests_total" in allowed.content
    refused = _get(app, "/metrics", client="127.0.0.1")  # loopback is not in this list
    unknown = _get(app, "/no-such-page", client="127.0.0.1")
    assert refused.status_code == unknown.status_code == 404
    assert refused.content == unknown.content
    assert _get(app, "/metrics", client="::1").status_code == 200


def test_metrics_default_to_loopback_only() -> None:
    app = _listener()
    assert _get(app, "/metrics", client="127.0.0.1").status_code == 200
    assert _get(app, "/metrics", client="192.0.2.10").status_code == 404


def test_probe_paths_answer_get_only() -> None:
    app = _listener()

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.post("/health")

    assert anyio.run(go).status_code in (404, 405)
    assert orjson.loads(_get(app, "/health").content) == {"status": "ok"}
