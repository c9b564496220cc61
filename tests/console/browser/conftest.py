"""Browser tests of the console: Debian's Chromium (the suite's harness, ``tests/browser.py``),
axe-core checks.

One console server per test session (uvicorn in a thread, on a free loopback port, over a
SQLite instance of its own with a fixed, advanceable clock); each test gets a fresh
browser context (``page``, from the harness).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
import uvicorn
from playwright.sync_api import Page

from tests.conftest import CHEAP_PASSWORDS, fresh_database
from tests.gateway.conftest import World
from tests.gateway.serving import free_port
from vigie.console.app import create_app
from vigie.console.auth import PasswordCost
from vigie.console.operators import add_operator
from vigie.detection.alerts import raise_alert
from vigie.detection.findings import Severity
from vigie.detection.models import ActivityWindow
from vigie.jobs.kinds import KINDS
from vigie.jobs.worker import Worker
from vigie.processors.models import Processor
from vigie.secrets import ensure_secrets, load_secrets
from vigie.settings import Settings
from vigie.store.engine import make_engine, make_session_factory

PASSWORD = "correct horse battery staple"
# Where screenshots go: a temporary directory, or docs/console to refresh the guide's
# (VIGIE_TEST_SCREENSHOTS=docs/console).
SCREENSHOTS = os.environ.get("VIGIE_TEST_SCREENSHOTS")
HOSTILE = {
    "legal_name": "<script>alert(1)</script> Formations",
    "contact_email": '"onerror=alert(1) x="@evil.example',
    "security_officer": "Ahmed \u202egpj.exe",
}


@dataclass
class Site:
    """The console under test: its URL, the world behind it, its operators' secrets."""

    url: str
    api_url: str
    world: World
    secrets: dict[str, str] = field(default_factory=dict)

    def api_status(self, token: str) -> int:
        """The processor API's answer to ``token`` (its own listener, on its own port)."""
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.get(self.api_url + "/api/v1/subjects", headers=headers).status_code

    def sign_in(self, page: Page, login: str) -> None:
        """Sign ``login`` in through the pages (enrolling TOTP the first time)."""
        page.goto(self.url + "/login")
        page.get_by_label("Login").fill(login)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Continue").click()
        page.wait_for_url("**/login/second-factor")
        secret = page.locator("code.secret")
        if secret.count():
            self.secrets[login] = secret.inner_text()
        self.world.advance(timedelta(seconds=30))  # a code is good once: a fresh step
        code = pyotp.TOTP(self.secrets[login]).at(self.world.now.timestamp())
        page.get_by_label("Six-digit code from your authenticator app").fill(code)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(self.url + "/")


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[Site]:
    """The console and the processor API served on one instance, once per database kind."""
    root = tmp_path_factory.mktemp("console-browser")
    ddl = lambda: request.getfixturevalue("pg_ddl")  # noqa: E731 - only for PostgreSQL
    with fresh_database(request.param, root, sqlite_template, ddl) as url:
        yield from _site(root, url)


def _site(root: Path, database_url: str) -> Iterator[Site]:
    settings = Settings(data_dir=root / "data", database_url=database_url, **CHEAP_PASSWORDS)
    settings.data_dir.mkdir()
    ensure_secrets(settings.resolved_secrets_dir)
    engine = make_engine(settings.resolved_database_url)
    world = World(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        secrets=load_secrets(settings.resolved_secrets_dir),
    )
    _populate(world)
    console = create_app(settings, engine=engine, secrets=world.secrets, clock=world.clock)
    with _serving(console) as url, _serving(world.app()) as api_url:
        yield Site(url=url, api_url=api_url, world=world)
    engine.dispose()


@contextmanager
def _serving(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn in a thread on a free loopback port; its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _populate(world: World) -> None:
    formalang = world.processor("formalang", per_day=40, per_30_days=900)
    world.processor("lingua", masks={"birth_date": "year"})
    hostile = world.processor("hostile")
    world.assign(formalang, world.people(12))
    world.assign(hostile, world.people(2))
    lingua = world.processor_id("lingua")
    with world.sessions.begin() as s:
        s.query(Processor).filter_by(name="hostile").update(HOSTILE)
        for back in range(30):  # a month of reading, for the processor page's chart
            day = world.now.date() - timedelta(days=back)
            people = 0 if day.weekday() >= 5 else 30 + (back * 7) % 25
            s.add(
                ActivityWindow(
                    processor_id=lingua, span="day", requests=people * 3, people=people,
                    start=datetime(day.year, day.month, day.day, tzinfo=UTC),
                )
            )  # fmt: skip
        raise_alert(
            s, detector="sweep", severity=Severity.MEDIUM, processor_id=lingua, key_id=None,
            summary="A cursor walks the whole scope at night", evidence={"pages": 40},
            now=world.now,
        )  # fmt: skip
        for login, role in (("dora", "dpo"), ("sam", "security"), ("audrey", "auditor")):
            add_operator(
                s, login=login, role=role, password=PASSWORD, language="en",
                actor="operator:test", cost=PasswordCost.of(world.settings),
            )  # fmt: skip


@pytest.fixture(scope="module")
def worker(site: Site) -> Iterator[Worker]:
    """A worker running beside the console, as `vigie serve` runs one: with an engine of its
    own, as in its own process (the worker's watch on its engine's commits must not be
    installed while the console's thread runs transactions on that engine)."""
    w = site.world
    site.world.settings.jobs_poll_seconds = 0.2
    engine = make_engine(w.settings.resolved_database_url)
    worker = Worker(settings=w.settings, secrets=w.secrets, engine=engine, kinds=dict(KINDS))
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    yield worker
    worker.stop()
    thread.join(timeout=60)
    worker.close()
    engine.dispose()


@pytest.fixture
def watched(page: Page) -> Iterator[Page]:
    """``page``, failing the test on any CSP violation or script error it reports."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    yield page
    blocked = [p for p in problems if re.search(r"Content.Security.Policy|Refused", p)]
    assert not blocked, blocked


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory of this run's screenshots (1366×768)."""
    target = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path_factory.mktemp("screenshots")
    target.mkdir(parents=True, exist_ok=True)
    return target
