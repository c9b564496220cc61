"""The console's languages (French and English, per operator) and Babel formatting.

English source strings are the message ids (in templates: ``{{ _("Processors") }}``);
the French catalogue is ``vigie/console/locale/fr/LC_MESSAGES/console.po``, compiled in
memory at first use like the notices' catalogues (:mod:`vigie.breach.i18n`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from babel.dates import format_datetime, format_timedelta, get_timezone
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "console"
LANGUAGES = ("fr", "en")
TIMEZONE = "Europe/Paris"


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

    def age(self, delta: timedelta) -> str:
        return str(format_timedelta(delta, locale=self.lang, threshold=1.5))
