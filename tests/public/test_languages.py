"""Every page in every language of the notice catalogue, chosen by the reader."""

from __future__ import annotations

import pytest
from babel.messages.pofile import read_po

from tests.public.conftest import Public
from vigie.breach import i18n
from vigie.public import languages

PAGES = ["/", "/verify", "/self-check", "/my-file"]


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_every_catalogue_translates_every_message(lang: str) -> None:
    with languages.po_path(lang).open("rb") as f:
        catalog = read_po(f)
    ids = [m.id for m in catalog if m.id]
    assert len(ids) > 40
    if lang != "en":
        assert [m.id for m in catalog if m.id and not m.string] == []


def test_the_public_catalogue_speaks_the_notice_catalogue_languages() -> None:
    assert languages.LANGUAGES == i18n.LANGUAGES
    assert set(languages.AUTONYMS) == set(i18n.LANGUAGES)


def test_every_page_in_every_language(public: Public) -> None:
    with public.client() as c:
        for lang in i18n.LANGUAGES:
            for path in PAGES:
                r = c.get(f"{path}?lang={lang}")
                assert r.status_code == 200
                tag = languages.html_lang(lang)
                assert f'<html lang="{tag}" dir="{i18n.direction(lang)}">' in r.text, (lang, path)
                assert len(r.content) < 100_000
                assert "<script" not in r.text
                for other in i18n.LANGUAGES:  # the picker: plain links, each in its language
                    assert (
                        f'href="{path}?lang={other}" lang="{languages.html_lang(other)}"' in r.text
                    )


def test_the_choice_is_kept_in_a_cookie_and_wins_over_the_browser(public: Public) -> None:
    with public.client() as c:
        first = c.get("/verify?lang=ar")
        assert first.cookies.get("lang") == "ar"
        later = c.get("/verify", headers={"Accept-Language": "en"})
    assert '<html lang="ar" dir="rtl">' in later.text


def test_the_browser_only_picks_the_first_page(public: Public) -> None:
    with public.client() as c:
        r = c.get("/", headers={"Accept-Language": "fa-AF,fa;q=0.9"})
    assert '<html lang="fa-AF" dir="rtl">' in r.text


@pytest.mark.parametrize("lang", ["ar", "prs", "he", "ps"])
def test_codes_and_numbers_stay_left_to_right_on_rtl_pages(public: Public, lang: str) -> None:
    code = public.code(0)
    with public.client() as c:
        r = c.post("/verify", data={"code": code, "lang": lang})
    assert 'dir="rtl"' in r.text
    assert f'<bdi dir="ltr">{code}</bdi>' in r.text
    assert f'<bdi dir="ltr">{public.incident_id}</bdi>' in r.text


def test_what_the_reader_typed_is_escaped(public: Public) -> None:
    with public.client() as c:
        r = c.post("/verify", data={"code": "<script>alert(1)</script>", "lang": "en"})
    assert "<script>" not in r.text and "&lt;script&gt;" in r.text
