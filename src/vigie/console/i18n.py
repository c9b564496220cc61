"""The console's languages (French and English, per operator) and Babel formatting.

English source strings are the message ids (in templates: ``{{ _("Processors") }}``);
the French catalogue is ``vigie/console/locale/fr/LC_MESSAGES/console.po``, compiled in
memory at first use like the notices' catalogues (:mod:`vigie.breach.i18n`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path

from babel.dates import format_date, format_datetime, format_timedelta, get_timezone
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "console"
LANGUAGES = ("fr", "en")
TIMEZONE = "Europe/Paris"


def N_(message: str) -> str:  # gettext's name for "mark, translate later"
    """Mark ``message`` for the catalogue; it is translated where it is shown."""
    return message


# Words that reach the pages as data (roles, states, severities): in the catalogue too.
WORDS = (
    N_("dpo"), N_("security"), N_("auditor"),
    N_("active"), N_("suspended"), N_("expired"), N_("revoked"),
    N_("low"), N_("medium"), N_("high"), N_("critical"),
    N_("Sign in"), N_("Second factor"), N_("Set up your second factor"), N_("Error"),
    N_("Overview"), N_("Processors"), N_("Processor"), N_("Audit"), N_("New API key"),
)  # fmt: skip


def negotiate(accept_language: str | None, *, default: str = "fr") -> str:
    """The language of a page seen before sign-in, from the browser's ``Accept-Language``."""
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and q > 0:
            ranked.append((-q, i, primary))
    return min(ranked)[2] if ranked else default


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(lang: str) -> NullTranslations:
    """The translations of ``lang`` (English is the source: no catalogue)."""
    if lang == "en" or not po_path(lang).exists():
        return NullTranslations()
    with po_path(lang).open("rb") as f:
        catalog = read_po(f, locale=lang, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


@dataclass(frozen=True)
class Formatter:
    """Formats values for one operator's language (numbers, dates, durations)."""

    lang: str

    def gettext(self, message: str) -> str:
        return translations(self.lang).gettext(message)

    def number(self, value: int | float) -> str:
        return str(format_decimal(value, locale=self.lang))

    def when(self, value: datetime | None) -> str:
        if value is None:
            return "—"
        return str(
            format_datetime(value, "medium", tzinfo=get_timezone(TIMEZONE), locale=self.lang)
        )

    def day(self, value: date) -> str:
        return str(format_date(value, "medium", locale=self.lang))

    def age(self, delta: timedelta) -> str:
        return str(format_timedelta(delta, locale=self.lang, threshold=1.5))
