"""Every console page at a phone's width (375 px): nothing wider than the screen but
the labelled scroll containers that hold wide tables, no serious accessibility
violation, and a screenshot of each."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.browser import assert_accessible
from tests.console.browser.conftest import PASSWORD, Site
from vigie.console.operators import add_operator

pytestmark = pytest.mark.browser
PHONE = {"width": 375, "height": 667}
PAGES = (
    "/",
    "/processors",
    "/processors/formalang",
    "/processors/lingua",
    "/processors/hostile",
    "/alerts",
    "/leaks",
    "/incidents",
    "/register",
    "/audit",
    "/requirements",
    "/processors/formalang/requirements",
    "/account/security-keys",
)
# What may be wider than the screen: scroll containers, and what they hold.
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [];
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest('.scroll')) continue;
    const box = el.getBoundingClientRect();
    if (box.width > 0 && (box.right > width + 1 || box.left < -1)) {
      if (el.closest('.skip')) continue;  // off-screen until focused
      wide.push(el.tagName.toLowerCase() + (el.className ? '.' + el.className : '')
                + ' ' + Math.round(box.left) + '..' + Math.round(box.right));
    }
  }
  return {scroll: document.documentElement.scrollWidth, width, wide: wide.slice(0, 10)};
}"""
SCROLLERS = """() => [...document.querySelectorAll('.scroll')].map(el => ({
  overflows: el.scrollWidth > el.clientWidth,
  labelled: el.getAttribute('role') === 'region' && !!el.getAttribute('aria-labelledby'),
  focusable: el.tabIndex === 0,
}))"""


@pytest.fixture
def phone(chromium: Browser) -> Page:
    context = chromium.new_context(viewport=PHONE, locale="en-GB", is_mobile=True)
    return context.new_page()


def _fits(page: Page, path: str) -> None:
    found = page.evaluate(OVERFLOW)
    assert found["scroll"] <= found["width"], (path, found)
    assert not found["wide"], (path, found)
    for scroller in page.evaluate(SCROLLERS):
        assert scroller["labelled"] and scroller["focusable"], (path, scroller)


def test_every_page_fits_a_phone(site: Site, phone: Page, shots: Path) -> None:
    with site.world.sessions.begin() as s:
        add_operator(
            s, login="pia", role="dpo", password=PASSWORD, language="en", actor="operator:test"
        )
    phone.goto(site.url + "/login")
    _fits(phone, "/login")
    assert_accessible(phone)
    phone.screenshot(path=str(shots / "phone-login.png"), full_page=True)
    site.sign_in(phone, "pia")
    for path in PAGES:
        phone.goto(site.url + path)
        _fits(phone, path)
        assert_accessible(phone)
        name = path.strip("/").replace("/", "-") or "overview"
        phone.screenshot(path=str(shots / f"phone-{name}.png"), full_page=True)
