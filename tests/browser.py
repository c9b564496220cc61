"""The one browser harness of the suite: Debian's Chromium driven by Playwright, axe-core.

Registered as a plugin by ``tests/conftest.py``; the console's and the public service's
browser tests both use it. Chromium is Debian's (``/usr/bin/chromium``, or
``VIGIE_TEST_CHROMIUM``), launched through ``executable_path``: Playwright's own browser
download fails on these machines (and pytest-playwright is not used: ``-p no:playwright``).

A test is a browser test when it uses the :func:`chromium` fixture (directly or through
:func:`page`); it is then marked ``browser``. Without Chromium those tests are skipped and
the run says why, last and loud — unless ``VIGIE_TEST_REQUIRE_BROWSER=1`` (CI), which
turns each skip into a failure.

One browser per xdist worker, launched by the first browser test. Playwright's
synchronous API marks an event loop as running in the main thread while it is started,
and the suite's in-process HTTP tests (``anyio.run``) cannot run beside it: the browser
is closed as soon as the next test of the worker is not a browser test. The browser tests
share the ``xdist_group`` "browser", so that ``--dist loadgroup`` (``make test``) runs
them one after the other on one worker, and Chromium starts once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

CHROMIUM = Path(os.environ.get("VIGIE_TEST_CHROMIUM", "/usr/bin/chromium"))
REQUIRE = os.environ.get("VIGIE_TEST_REQUIRE_BROWSER") == "1"
VIEWPORT = {"width": 1366, "height": 768}
SERIOUS = frozenset({"serious", "critical"})
MISSING = (
    f"browser tests skipped: no {CHROMIUM} (install Debian's chromium: apt-get install chromium)"
)


class _Chromium:
    """The worker's Chromium: launched on first use, closed by :meth:`close`."""

    def __init__(self) -> None:
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self.launches = 0

    def get(self) -> Browser:
        if self._browser is None:
            self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=["--no-sandbox"]
            )
            self.launches += 1
        return self._browser

    def close(self) -> None:
        if self._browser is not None:
            self._browser.close()
            self._browser = None
        if self._playwright is not None:
            self._playwright.stop()
            self._playwright = None


_WORKER = _Chromium()


def _uses_browser(item: pytest.Item | None) -> bool:
    return item is not None and "chromium" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the browser tests ``browser`` and group them; skip them without Chromium."""
    missing = not CHROMIUM.exists()
    for item in items:
        if not _uses_browser(item):
            continue
        item.add_marker(pytest.mark.browser)
        item.add_marker(pytest.mark.xdist_group("browser"))
        if missing and not REQUIRE:
            item.add_marker(pytest.mark.skip(reason=MISSING))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Close the worker's browser (after the test's own fixtures) unless the next test
    drives it too."""
    try:
        return (yield)
    finally:
        if _uses_browser(item) and not _uses_browser(nextitem):
            _WORKER.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say it, last and loud, when the browser tests did not run."""
    if not CHROMIUM.exists() and not REQUIRE:
        terminalreporter.write_line(
            f"Browser tests SKIPPED: no {CHROMIUM}. Install Debian's chromium "
            "(apt-get install chromium) to run them; .ci/run always does.",
            yellow=True,
            bold=True,
        )


@pytest.fixture
def chromium() -> Browser:
    """The worker's Chromium (see the module's docstring for its lifetime)."""
    if not CHROMIUM.exists():
        pytest.fail(f"VIGIE_TEST_REQUIRE_BROWSER=1 but {CHROMIUM} is missing")
    return _WORKER.get()


@pytest.fixture
def context_args() -> dict[str, Any]:
    """Options of :func:`page`'s browser context; override it to change them."""
    return {"viewport": VIEWPORT, "locale": "en-GB"}


@pytest.fixture
def page(chromium: Browser, context_args: dict[str, Any]) -> Iterator[Page]:
    """A fresh browser context (no cookie) and page, 1366×768 unless ``context_args`` says."""
    context = chromium.new_context(**context_args)
    yield context.new_page()
    context.close()


def serious_violations(page: Page) -> list[str]:
    """The serious and critical axe-core violations on ``page``, one line each."""
    results = Axe().run(page)
    assert results.response["testEngine"]["name"] == "axe-core"  # it did run in the page
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in SERIOUS
    ]


def assert_accessible(page: Page) -> None:
    """No serious or critical axe-core violation on ``page`` (axe's full report if any)."""
    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v["impact"] in SERIOUS]
    assert not bad, results.generate_report()
