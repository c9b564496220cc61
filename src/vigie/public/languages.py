"""The reader's language: chosen by them (``?lang=``, then a cookie), never guessed from
who they are; the browser's ``Accept-Language`` only picks the first page's language.

The public pages speak every language of the notice catalogue
(:data:`vigie.breach.i18n.LANGUAGES`). Their strings live in their own gettext catalogue,
``vigie/public/locale/<lang>/LC_MESSAGES/public.po``, compiled in memory when first used
(as the notices' are). Directions and Babel locales are the notice catalogue's.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from vigie.breach import i18n

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "public"
LANGUAGES = i18n.LANGUAGES
DEFAULT = "fr"
COOKIE = "lang"
# Each language named in itself, for the picker.
AUTONYMS = {
    "fr": "Français",
    "en": "English",
    "uk": "Українська",
    "ru": "Русский",
    "ar": "العربية",
    "prs": "دری",
    "ps": "پښتو",
    "zh": "中文",
    "he": "עברית",
    "es": "Español",
    "pt": "Português",
    "tr": "Türkçe",
    "ti": "ትግርኛ",
    "bn": "বাংলা",
}
# The BCP 47 tag to put in ``lang`` (Dari has its own ISO 639-3 code, ``prs``).
HTML_LANG = {"prs": "fa-AF"}


def po_path(lang: str) -> Path:
    """Where the public catalogue of ``lang`` lives."""
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(lang: str) -> Translations:
    """The compiled public catalogue of ``lang``."""
    with po_path(lang).open("rb") as f:
        catalog = read_po(f, locale=i18n.babel_locale(lang), domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def choose(*, query: str | None, cookie: str | None, accept: str | None) -> str:
    """The page's language: the one asked in the URL, else the one kept, else the browser's."""
    for asked in (query, cookie):
        if asked in LANGUAGES:
            return asked
    for item in (accept or "").split(",")[:10]:
        lang = i18n.catalogue_language(item.split(";")[0].strip())
        if lang:
            return lang
    return DEFAULT


def html_lang(lang: str) -> str:
    """The ``lang`` attribute of a page in ``lang``."""
    return HTML_LANG.get(lang, lang)
