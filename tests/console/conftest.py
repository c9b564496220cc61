"""Fixtures of the console tests: the gateway's small world, its console, signed-in clients.

``desk`` builds the console over ``world``'s instance with ``world``'s clock, and signs
operators in through the real pages (password, then a TOTP code computed from the secret
the enrolment page shows).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import anyio
import httpx
import pyotp
import pytest
from fastapi import FastAPI

from tests.gateway.conftest import World, world  # noqa: F401 (fixture)
from vigie.console.app import create_app
from vigie.console.auth import PasswordCost
from vigie.console.operators import add_operator

PASSWORD = "correct horse battery staple"
SECRET_IN_PAGE = re.compile(r'<code class="secret">([A-Z2-7]+)</code>')
CSRF_IN_PAGE = re.compile(r'name="csrf" value="([^"]+)"')


class Client:
    """A browser-like client of an ASGI app (in-process HTTP, cookies kept, no redirects)."""

    def __init__(self, app: FastAPI, *, base_url: str = "http://console.test") -> None:
        self.app = app
        self.base_url = base_url
        self.cookies = httpx.Cookies()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, client=("192.0.2.50", 40000))
            async with httpx.AsyncClient(
                transport=transport, base_url=self.base_url, cookies=self.cookies
            ) as client:
                response = await client.request(method, url, **kwargs)
                self.cookies = client.cookies
                return response

        return anyio.run(go)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)


def csrf_of(html: str) -> str:
    found = CSRF_IN_PAGE.search(html)
    assert found, "no CSRF field in the page"
    return found.group(1)


@dataclass
class Desk:
    """The console of ``world``'s instance, and its operators."""

    world: World
    app: FastAPI
    secrets: dict[str, str] = field(default_factory=dict)  # login -> TOTP secret

    def operator(self, login: str, role: str, *, language: str = "en") -> None:
        with self.world.sessions.begin() as s:
            add_operator(
                s,
                login=login,
                role=role,
                password=PASSWORD,
                language=language,
                actor="operator:test",
                cost=PasswordCost.of(self.world.settings),
            )

    def client(self, **kwargs: Any) -> Client:
        return Client(self.app, **kwargs)

    def code(self, login: str, *, later: int = 0) -> str:
        """The TOTP code of ``login`` at the world's time (``later`` steps on)."""
        totp = pyotp.TOTP(self.secrets[login])
        return totp.at(self.world.now.timestamp() + later * totp.interval)

    def sign_in(self, login: str, client: Client | None = None) -> Client:
        """A client signed in as ``login`` (enrolling the second factor the first time)."""
        client = client or self.client()
        r = client.post("/login", data={"login": login, "password": PASSWORD})
        assert r.status_code == 303, r.text
        page = client.get("/login/second-factor")
        assert page.status_code == 200, page.text
        enrol = SECRET_IN_PAGE.search(page.text)
        if enrol:
            self.secrets[login] = enrol.group(1)
        else:
            self.world.advance(timedelta(seconds=30))  # a code is good once: the next step's
        r = client.post(
            "/login/second-factor",
            data={"code": self.code(login), "csrf": csrf_of(page.text)},
        )
        assert r.status_code == 303, r.text
        assert r.headers["location"] == "/"
        return client

    def csrf(self, client: Client, path: str = "/") -> str:
        return csrf_of(client.get(path).text)


@pytest.fixture
def desk(world: World) -> Desk:  # noqa: F811 (the imported fixture)
    app = create_app(world.settings, engine=world.engine, secrets=world.secrets, clock=world.clock)
    return Desk(world=world, app=app)
