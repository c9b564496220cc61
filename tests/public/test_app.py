"""The public listener serves its own pages and JSON, and nothing of the processor API."""

from __future__ import annotations

import httpx
import pytest

from tests.public.conftest import Public, in_own_loop
from vigie.gateway.app import create_app as create_gateway


def test_api_routes_are_not_on_the_public_listener(public: Public) -> None:
    with public.client() as c:
        for path in ("/api/v1/health", "/api/v1/subjects", "/api/v1/openapi.json", "/api/docs"):
            assert c.get(path).status_code == 404, path
        assert c.get("/").status_code == 200
        spec = c.get("/openapi.json").json()
    assert sorted(spec["paths"]) == ["/json/disclosure-report", "/json/self-check", "/json/verify"]


def test_public_routes_are_not_on_the_api_listener(public: Public) -> None:
    gateway = create_gateway(public.settings, engine=public.engine, secrets=public.secrets)

    async def get(path: str) -> int:
        transport = httpx.ASGITransport(app=gateway)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as c:
            return (await c.get(path)).status_code

    for path in ("/", "/verify", "/self-check", "/my-file", "/openapi.json", "/static/public.css"):
        assert in_own_loop(lambda p=path: get(p)) == 404, path


@pytest.mark.parametrize("path", ["/", "/verify", "/self-check", "/my-file"])
def test_pages_carry_a_strict_policy_and_no_script(public: Public, path: str) -> None:
    with public.client() as c:
        r = c.get(path)
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert "<script" not in r.text and "http://" not in r.text.replace("http://public.test", "")
    assert r.headers["x-frame-options"] == "DENY"
    assert len(r.content) < 100_000
