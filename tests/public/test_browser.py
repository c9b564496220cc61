"""The public pages in a real browser (Chromium, no JavaScript of ours), checked with axe-core."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from email import message_from_bytes
from email.policy import default
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.browser import serious_violations
from tests.conftest import SQLITE_ONLY
from tests.public.conftest import Public, trail_days
from vigie.breach import i18n
from vigie.public import incident_pages, languages
from vigie.settings import Settings

# What a browser shows of the pages; the same answers are tested in process on both databases.
pytestmark = SQLITE_ONLY

GRACE = "grace.mensah@example.org"
NOBODY = "nobody@example.org"


@pytest.fixture
def context_args(context_args: dict[str, Any]) -> dict[str, Any]:
    """No JavaScript at all: every page must work without it."""
    return {**context_args, "java_script_enabled": False}


def _check(page: Page, served: str, code: str, lang: str = "en") -> None:
    page.goto(f"{served}/verify?lang={lang}")
    page.locator("#code").fill(code)
    page.locator("form button[type=submit]").click()


def test_a_real_code_and_a_forged_one(page: Page, served: str, public: Public) -> None:
    _check(page, served, public.code(1))
    assert page.locator("h1").inner_text() == "This notice is genuine"
    assert "e-mail, SMS" in page.locator(".notices").inner_text()
    _check(page, served, "7K3M-Q9PX")
    assert page.locator("h1").inner_text() == "We cannot confirm this notice"


def _self_check(page: Page, served: str, contact: str) -> str:
    page.goto(f"{served}/self-check?lang=en")
    page.get_by_label("E-mail address or phone number", exact=True).fill(contact)
    page.locator("form button[type=submit]").click()
    return page.content()


def test_the_self_check_looks_the_same_and_sends_the_right_message(
    page: Page, served: str, public: Public
) -> None:
    known = _self_check(page, served, GRACE)
    unknown = _self_check(page, served, NOBODY)
    assert known == unknown
    assert "a message has been sent to it" in known
    public.drain()
    ((_, rcpt, data),) = public.sink.messages
    assert rcpt == [GRACE]
    mail = message_from_bytes(data, policy=default)
    assert public.code(1) in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_the_disclosure_report_arrives_at_the_contact_on_file_and_matches_the_trail(
    page: Page, served: str, public: Public, disclosed: dict[str, int]
) -> None:
    page.goto(f"{served}/my-file?lang=en")
    page.get_by_label("E-mail address or phone number", exact=True).fill(GRACE)
    page.locator("form button[type=submit]").click()
    known = page.content()
    page.goto(f"{served}/my-file?lang=en")
    page.get_by_label("E-mail address or phone number", exact=True).fill(NOBODY)
    page.locator("form button[type=submit]").click()
    assert page.content() == known
    public.drain()
    ((_, rcpt, data),) = public.sink.messages
    assert rcpt == [GRACE]
    mail = message_from_bytes(data, policy=default)
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    path = text[text.index("/report/") :].split()[0]
    page.goto(f"{served}{path}")
    page.get_by_role("button", name="Show my report").click()
    assert page.locator("h1").inner_text() == "Your disclosure report"
    rows = page.locator("tr.line")
    shown = set()
    for i in range(rows.count()):
        cells = rows.nth(i).locator("td")
        shown.add((cells.nth(0).inner_text(), cells.nth(1).inner_text()))
    assert shown == {
        ("February 3, 2026", "Lingua SAS (fictitious)"),
        ("February 5, 2026", "Civic SAS (fictitious)"),
    }
    assert trail_days(public, public.subject_ids[1]) == {
        (date(2026, 2, 3), disclosed["lingua"]),
        (date(2026, 2, 5), disclosed["civic"]),
    }


@pytest.mark.parametrize("lang", ["ar", "prs"])
def test_arabic_and_dari_pages_run_right_to_left_with_codes_left_to_right(
    page: Page, served: str, public: Public, lang: str
) -> None:
    code = public.code(0)
    _check(page, served, code, lang)
    assert page.evaluate("getComputedStyle(document.documentElement).direction") == "rtl"
    bdi = page.locator('main bdi[dir="ltr"]', has_text=code).first
    assert bdi.evaluate("e => getComputedStyle(e).direction") == "ltr"
    assert bdi.inner_text() == code
    # Laid out left to right: the code's first character is left of its last one.
    first, last = bdi.evaluate(
        """e => { const r = document.createRange(); const t = e.firstChild;
                  r.setStart(t, 0); r.setEnd(t, 1); const a = r.getBoundingClientRect().left;
                  r.setStart(t, t.length - 1); r.setEnd(t, t.length);
                  return [a, r.getBoundingClientRect().left]; }"""
    )
    assert first < last


@pytest.fixture
def axe_page(chromium: Browser, context_args: dict[str, Any]) -> Iterator[Page]:
    """A page with scripts on (axe-core runs in the page), for the accessibility checks."""
    context = chromium.new_context(**{**context_args, "java_script_enabled": True})
    yield context.new_page()
    context.close()


def test_axe_finds_nothing_serious_on_any_page_in_any_language(
    axe_page: Page, served: str, public: Public
) -> None:
    page = axe_page
    with public.sessions.begin() as s:
        incident_pages.publish(s, incident_id=public.incident_id, actor="operator:test")
    found: dict[str, list[str]] = {}
    for lang in i18n.LANGUAGES:
        for path in ("/", "/verify", "/self-check", "/my-file", f"/incidents/{public.incident_id}"):
            page.goto(f"{served}{path}?lang={lang}")
            found[f"{path} {lang}"] = serious_violations(page)
        _check(page, served, public.code(0), lang)
        found[f"genuine {lang}"] = serious_violations(page)
        _check(page, served, "7K3M-Q9PX", lang)
        found[f"forged {lang}"] = serious_violations(page)
        page.goto(f"{served}/verify?lang={lang}")
        page.locator("form button[type=submit]").click()  # empty: the error summary
        found[f"error {lang}"] = serious_violations(page)
        page.goto(f"{served}/self-check?lang={lang}")
        page.locator("form button[type=submit]").click()  # empty: the error summary
        found[f"self-check error {lang}"] = serious_violations(page)
        page.locator("#contact").fill(NOBODY)
        page.locator("form button[type=submit]").click()
        found[f"sent {lang}"] = serious_violations(page)
        page.goto(f"{served}/my-file?lang={lang}")
        page.locator("#contact").fill(NOBODY)
        page.locator("form button[type=submit]").click()
        found[f"report requested {lang}"] = serious_violations(page)
        page.goto(f"{served}/no-such-page?lang={lang}")
        found[f"not found {lang}"] = serious_violations(page)
    assert {k: v for k, v in found.items() if v} == {}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A report link in every language for one person: above the daily cap per contact."""
    return settings.model_copy(update={"public_messages_per_contact": "100/day"})


def test_axe_finds_nothing_serious_on_the_disclosure_report_in_any_language(
    axe_page: Page, served: str, public: Public, disclosed: dict[str, int]
) -> None:
    page = axe_page
    with public.sessions.begin() as s:
        incident_pages.publish(s, incident_id=public.incident_id, actor="operator:test")
    for lang in i18n.LANGUAGES:
        page.goto(f"{served}/my-file?lang={lang}")
        page.locator("#contact").fill(GRACE)
        page.locator("form button[type=submit]").click()
    public.drain()
    assert len(public.sink.messages) == len(i18n.LANGUAGES)
    found: dict[str, list[str]] = {}
    for _, _, data in public.sink.messages:
        text = message_from_bytes(data, policy=default).get_body(("plain",)).get_content()  # type: ignore[union-attr]
        path = text[text.index("/report/") :].split()[0]
        page.goto(f"{served}{path}")
        lang = page.locator("html").get_attribute("lang") or "?"
        found[f"link {lang}"] = serious_violations(page)
        page.locator("form button[type=submit]").click()
        assert page.locator("tr.line").count() == 2
        found[f"report {lang}"] = serious_violations(page)
        page.goto(f"{served}{path}")
        found[f"spent {lang}"] = serious_violations(page)
    shown = {key.split()[1] for key in found}
    assert shown == {languages.html_lang(lang) for lang in i18n.LANGUAGES}
    assert {k: v for k, v in found.items() if v} == {}


PHONE = {"width": 360, "height": 640}  # a cheap phone's screen, in CSS pixels


def test_a_person_reading_dari_on_a_phone_checks_asks_and_gets_the_answers_at_home(
    chromium: Browser, served: str, public: Public, disclosed: dict[str, int]
) -> None:
    """The issue's "done means": the SMS in Dari, a phone, no JavaScript; verify the notice,
    ask what was exposed and who saw the file; the answers reach the contact on file."""
    context = chromium.new_context(viewport=PHONE, locale="fa-AF", java_script_enabled=False)
    page = context.new_page()
    gettext = languages.translations("prs").gettext

    def fits() -> bool:  # nothing wider than the screen: no sideways scrolling
        return bool(page.evaluate("document.documentElement.scrollWidth <= innerWidth"))

    try:
        _check(page, served, public.code(1), "prs")
        assert page.locator("h1").inner_text() == gettext("This notice is genuine")
        assert page.locator("html").get_attribute("lang") == "fa-AF" and fits()
        page.goto(f"{served}/self-check")  # the language is kept (cookie)
        page.locator("#contact").fill(GRACE)
        page.locator("form button[type=submit]").click()
        assert page.locator("h1").inner_text() == gettext("Request received") and fits()
        page.goto(f"{served}/my-file")
        page.locator("#contact").fill(GRACE)
        page.locator("form button[type=submit]").click()
        assert page.locator("h1").inner_text() == gettext("Request received")
        public.drain()
        assert [rcpt for _, rcpt, _ in public.sink.messages] == [[GRACE], [GRACE]]
        texts = [
            message_from_bytes(data, policy=default).get_body(("plain",)).get_content()  # type: ignore[union-attr]
            for _, _, data in public.sink.messages
        ]
        (notice,) = [t for t in texts if "/report/" not in t]
        assert public.code(1) in notice  # what was exposed, with the code that verifies
        (link,) = [t for t in texts if "/report/" in t]
        page.goto(served + link[link.index("/report/") :].split()[0])
        page.locator("form button[type=submit]").click()
        assert page.locator("h1").inner_text() == gettext("Your disclosure report")
        assert page.locator("html").get_attribute("dir") == "rtl"
        assert page.locator("tr.line").count() == 2 and fits()
    finally:
        context.close()
