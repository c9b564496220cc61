"""Translation catalogues of the notices, and the language each person gets.

The catalogues are standard gettext ``.po`` files under
``vigie/breach/locale/<lang>/LC_MESSAGES/notices.po``; English source strings are the
message ids (in the templates and in :mod:`vigie.breach.labels`). They are compiled in
memory when first used, so no stale binary can disagree with its source;
:func:`compile_catalogues` writes ``.mo`` files for tools that want them
(``python -m vigie.breach.i18n``).

A person's ``preferred_language`` (BCP 47) is matched to a catalogue by exact tag, by
alias (``fa-AF`` → Dari ``prs``, ``zh-Hans`` → ``zh``…), then by primary subtag; a
language without a catalogue gets the notice in French and English.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "notices"
LANGUAGES: tuple[str, ...] = (
    "fr", "en", "uk", "ru", "ar", "prs", "ps", "zh", "he", "es", "pt", "tr", "ti", "bn",
)  # fmt: skip
FALLBACK: tuple[str, ...] = ("fr", "en")
RTL = frozenset({"ar", "prs", "ps", "he"})
ALIASES = {
    "fa-af": "prs", "fa": "prs", "prs-af": "prs", "prs-arab": "prs",
    "zh-cn": "zh", "zh-hans": "zh", "zh-hans-cn": "zh", "zh-sg": "zh",
    "pt-br": "pt", "pt-pt": "pt", "iw": "he", "ps-af": "ps", "ps-pk": "ps",
}  # fmt: skip
# Babel locale of each catalogue (dates, list separators).
BABEL_LOCALES = {"prs": "fa_AF"}
LIST_SEPARATORS = {"ar": "، ", "prs": "، ", "ps": "، ", "zh": "、", "ti": "፣ "}


def catalogue_language(tag: str | None) -> str | None:
    """The catalogue for a BCP 47 tag, or ``None`` when there is none."""
    if not tag:
        return None
    norm = tag.strip().replace("_", "-").lower()
    if norm in LANGUAGES:
        return norm
    if norm in ALIASES:
        return ALIASES[norm]
    primary = norm.split("-", 1)[0]
    if primary in LANGUAGES:
        return primary
    return ALIASES.get(primary)


def languages_for(tag: str | None) -> tuple[str, ...]:
    """The languages a person's notice is written in: theirs, or French and English."""
    lang = catalogue_language(tag)
    return (lang,) if lang else FALLBACK


def direction(lang: str) -> str:
    """``rtl`` or ``ltr``."""
    return "rtl" if lang in RTL else "ltr"


def babel_locale(lang: str) -> str:
    """The Babel locale name of a catalogue language."""
    return BABEL_LOCALES.get(lang, lang)


def po_path(lang: str) -> Path:
    """Where the catalogue of ``lang`` lives."""
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(lang: str) -> Translations:
    """The compiled translations of ``lang`` (compiled in memory from the ``.po``)."""
    with po_path(lang).open("rb") as f:
        catalog = read_po(f, locale=babel_locale(lang), domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def compile_catalogues() -> list[Path]:
    """Write ``notices.mo`` next to every ``notices.po``; return the files written."""
    written = []
    for lang in LANGUAGES:
        with po_path(lang).open("rb") as f:
            catalog = read_po(f, locale=babel_locale(lang), domain=DOMAIN)
        target = po_path(lang).with_suffix(".mo")
        with target.open("wb") as out:
            write_mo(out, catalog)
        written.append(target)
    return written


if __name__ == "__main__":
    for path in compile_catalogues():
        print(path)
