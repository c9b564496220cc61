"""Browser tests of the console: Debian's Chromium driven by Playwright, axe-core checks.

(Playwright's pytest plugin is not used: its session-wide browser keeps an event loop
running in the main thread for the rest of the run, which breaks the suite's in-process
HTTP tests that share the worker; :func:`chromium` lives for one module instead.)

One console server per test session (uvicorn in a thread, on a free loopback port, over a
SQLite instance of its own with a fixed, advanceable clock); each test gets a fresh
browser context. Chromium is Debian's (``/usr/bin/chromium``, launched through
``executable_path``): Playwright's own browser download fails on these machines.

Without Chromium the tests are skipped and the run says why — unless
``VIGIE_TEST_REQUIRE_BROWSER=1`` (CI), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import re
import shutil
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
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, sync_playwright

from tests.gateway.conftest import World
from tests.gateway.serving import free_port
from vigie.console.app import create_app
from vigie.console.operators import add_operator
from vigie.detection.alerts import raise_alert
from vigie.detection.findings import Severity
from vigie.detection.models import ActivityWindow
from vigie.processors.models import Processor
from vigie.secrets import ensure_secrets, load_secrets
from vigie.settings import Settings
from vigie.store.engine import make_engine, make_session_factory

CHROMIUM = Path(os.environ.get("VIGIE_TEST_CHROMIUM", "/usr/bin/chromium"))
REQUIRE = os.environ.get("VIGIE_TEST_REQUIRE_BROWSER") == "1"
PASSWORD = "correct horse battery staple"
# Where screenshots go: a temporary directory, or docs/console to refresh the guide's
# (VIGIE_TEST_SCREENSHOTS=docs/console).
SCREENSHOTS = os.environ.get("VIGIE_TEST_SCREENSHOTS")
VIEWPORT = {"width": 1366, "height": 768}
HOSTILE = {
    "legal_name": "<script>alert(1)</script> Formations",
    "contact_email": '"onerror=alert(1) x="@evil.example',
    "security_officer": "Ahmed \u202egpj.exe",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM.exists():
        return
    why = (
        f"browser tests skipped: no {CHROMIUM} "
        "(install Debian's chromium: apt-get install chromium)"
    )
    if REQUIRE:
        return  # _browser_required fails each test instead
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=why))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say it, last and loud, when the browser half did not run."""
    if not CHROMIUM.exists() and not REQUIRE:
        terminalreporter.write_line(
            f"Browser tests SKIPPED: no {CHROMIUM}. Install Debian's chromium "
            "(apt-get install chromium) to run them; .ci/run always does.",
            yellow=True,
            bold=True,
        )


@pytest.fixture(scope="session", autouse=True)
def _browser_required() -> None:
    if REQUIRE and not CHROMIUM.exists():
        pytest.fail(f"VIGIE_TEST_REQUIRE_BROWSER=1 but {CHROMIUM} is missing")


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, for this module's tests.

    Module-scoped on purpose: Playwright's synchronous API keeps an event loop running in
    the main thread while it is started, and the in-process HTTP tests elsewhere in the
    suite (``anyio.run``) cannot run beside it in the same xdist worker.
    """
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookie) and page, at 1366×768."""
    context = chromium.new_context(viewport=VIEWPORT, locale="en-GB")
    yield context.new_page()
    context.close()


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


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("console-browser")
    db = root / "vigie.db"
    shutil.copy(sqlite_template, db)
    settings = Settings(data_dir=root / "data", database_url=f"sqlite:///{db}")
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
                s, login=login, role=role, password=PASSWORD, language="en", actor="operator:test"
            )


@pytest.fixture
def watched(page: Page) -> Iterator[Page]:
    """``page``, failing the test on any CSP violation or script error it reports."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    yield page
    blocked = [p for p in problems if re.search(r"Content.Security.Policy|Refused", p)]
    assert not blocked, blocked


def assert_accessible(page: Page) -> None:
    """No serious or critical axe-core violation on ``page``."""
    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, results.generate_report()


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory of this run's screenshots (1366×768)."""
    target = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path_factory.mktemp("screenshots")
    target.mkdir(parents=True, exist_ok=True)
    return target
