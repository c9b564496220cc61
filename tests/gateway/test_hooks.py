"""The gateway serves the canary webhook the controller's mail gateway calls."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine

from vigie.fingerprint.trips import webhook_token
from vigie.gateway.app import create_app
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings


@pytest.mark.anyio
async def test_canary_hook_is_mounted_and_authenticated(
    settings: Settings, engine: Engine, secrets: InstanceSecrets
) -> None:
    app = create_app(settings, engine=engine, secrets=secrets)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        body = {"contact": "nobody@mail.example"}
        anonymous = await client.post("/hooks/canary", json=body)
        assert anonymous.status_code == 401
        headers = {"Authorization": f"Bearer {webhook_token(secrets)}"}
        unknown = await client.post("/hooks/canary", json=body, headers=headers)
        assert unknown.status_code == 404
        assert unknown.headers["content-type"].startswith("application/problem+json")
