"""Rendering the public pages: one Jinja environment per language, autoescaped.

Views pass plain values, already formatted for the reader's locale; templates only place
them. Codes, numbers, dates, phone numbers and addresses go in ``<bdi>`` (``dir="ltr"``
for the ones that are left to right in every language) so they are never reordered on a
right-to-left page. Every page links the language picker (plain links) and the one style
sheet of the service; nothing loads from elsewhere and nothing runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from babel.dates import format_date
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from vigie.breach import i18n
from vigie.public import languages

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
"""The policy of every page: its own style sheet, forms to itself, no script at all."""


@dataclass(frozen=True)
class Site:
    """What every page shows of the controller."""

    controller: str
    phone: str
    email: str


def ltr(value: object) -> Markup:
    """``value`` isolated as left to right (a code, a number, an address)."""
    return Markup('<bdi dir="ltr">%s</bdi>') % str(value)


def isolate(value: object) -> Markup:
    """``value`` isolated, in the direction of its own first strong letter."""
    return Markup("<bdi>%s</bdi>") % str(value)


@cache
def environment(lang: str) -> Environment:
    """The autoescaping environment of the pages in ``lang``."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(languages.translations(lang), newstyle=True)  # type: ignore[attr-defined]
    return env


def long_date(day: date, lang: str) -> str:
    """``day`` written out in ``lang`` (Babel)."""
    return format_date(day, format="long", locale=i18n.babel_locale(lang))


def render(template: str, *, lang: str, path: str, site: Site, **values: Any) -> str:
    """The page ``template`` in ``lang``, at ``path`` (for the language links)."""
    picker = [
        {
            "code": code,
            "tag": languages.html_lang(code),
            "dir": i18n.direction(code),
            "name": languages.AUTONYMS[code],
            "href": f"{path}?{urlencode({'lang': code})}",
            "current": code == lang,
        }
        for code in languages.LANGUAGES
    ]
    return (
        environment(lang)
        .get_template(template)
        .render(
            lang=languages.html_lang(lang),
            dir=i18n.direction(lang),
            picker=picker,
            controller=site.controller,
            phone=ltr(site.phone),
            email=ltr(site.email),
            **values,
        )
    )
