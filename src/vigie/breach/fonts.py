"""The fonts that letters and PDF packs need, and a check that no glyph is missing.

Fonts are prepared once per cache directory (:func:`prepare`): each family is cut down
(fontTools subsetter, layout features kept so Arabic still joins) to the characters the
catalogues, their dates and people's names can use, and declared to WeasyPrint with
``@font-face``. Subsetting a 20 MB CJK collection for every letter would take half a
minute per letter; a prepared font takes milliseconds.

A PDF is only as good as its fonts: WeasyPrint draws an empty box ("tofu") for a
character no font covers, silently. So each language has a font stack, and before a
PDF is written every character of its text is checked against the fonts' character
maps; a missing glyph is an error naming the character and the language, never tofu.

Fonts (Debian packages; see docs/breach.md):
``fonts-dejavu-core`` (Latin, Cyrillic, Hebrew), ``fonts-sil-scheherazade`` (Arabic,
Dari, Pashto), ``fonts-noto-cjk`` (Chinese), ``fonts-sil-abyssinica`` (Tigrinya, in
Ethiopic script), ``fonts-lohit-beng-bengali`` (Bengali). ``python -m vigie.breach.fonts`` reports
what is installed.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from babel.dates import format_date

from vigie.errors import ConfigError

DEFAULT_STACK: tuple[str, ...] = ("DejaVu Sans",)
STACKS: dict[str, tuple[str, ...]] = {
    "ar": ("Scheherazade", "DejaVu Sans"),
    "prs": ("Scheherazade", "DejaVu Sans"),
    "ps": ("Scheherazade", "DejaVu Sans"),
    "zh": ("Noto Sans CJK SC", "DejaVu Sans"),
    "ti": ("Abyssinica SIL", "DejaVu Sans"),
    "bn": ("Lohit Bengali", "DejaVu Sans"),
}
PACKAGES = {
    "DejaVu Sans": "fonts-dejavu-core",
    "Scheherazade": "fonts-sil-scheherazade",
    "Noto Sans CJK SC": "fonts-noto-cjk",
    "Abyssinica SIL": "fonts-sil-abyssinica",
    "Lohit Bengali": "fonts-lohit-beng-bengali",
}


def stack(lang: str) -> tuple[str, ...]:
    """The font families a language's text is set in, first choice first."""
    return STACKS.get(lang, DEFAULT_STACK)


def css_stack(lang: str) -> str:
    """The CSS ``font-family`` value of a language."""
    return ", ".join(f'"{name}"' for name in stack(lang))


@cache
def font_file(family: str) -> tuple[Path, int]:
    """The installed file (and face index) of ``family``; ConfigError when it is absent."""
    if shutil.which("fc-match") is None:
        raise ConfigError("fontconfig (fc-match) is not installed; letters cannot be rendered")
    out = subprocess.run(  # noqa: S603
        ["fc-match", "-f", "%{family}|%{file}|%{index}", family],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    families, path, index = out.rsplit("|", 2)
    if family not in families.split(","):
        raise ConfigError(
            f"font {family!r} is not installed (install the Debian package "
            f"{PACKAGES.get(family, '?')}); letters in its languages would show empty boxes"
        )
    return Path(path), int(index or 0)


@contextmanager
def _open_font(family: str) -> Iterator[Any]:
    from fontTools.ttLib import TTCollection, TTFont  # type: ignore[import-untyped]

    path, index = font_file(family)
    if path.suffix.lower() in (".ttc", ".otc"):
        collection = TTCollection(str(path))
        try:
            yield collection.fonts[index]
        finally:
            collection.close()
    else:
        font = TTFont(str(path))
        try:
            yield font
        finally:
            font.close()


@cache
def coverage(family: str) -> frozenset[int]:
    """The code points ``family`` has glyphs for."""
    with _open_font(family) as font:
        return frozenset(font.getBestCmap())


def _needs_glyph(char: str) -> bool:
    # Spaces, controls and format characters (bidi isolates, ZWNJ) are not drawn.
    return not char.isspace() and unicodedata.category(char) not in ("Cc", "Cf")


def missing_glyphs(text: str, lang: str) -> set[str]:
    """Characters of ``text`` that no font of ``lang``'s stack can draw."""
    covered: set[int] = set()
    for family in stack(lang):
        covered |= coverage(family)
    return {c for c in set(text) if _needs_glyph(c) and ord(c) not in covered}


def require_glyphs(text: str, lang: str) -> None:
    """Raise :class:`ConfigError` if any character of ``text`` would render as tofu."""
    missing = missing_glyphs(text, lang)
    if missing:
        shown = ", ".join(f"U+{ord(c):04X} {unicodedata.name(c, '?')}" for c in sorted(missing))
        raise ConfigError(f"no installed font draws these characters for {lang!r}: {shown}")


# Characters kept in every prepared font besides the catalogues': Latin (names,
# addresses, e-mail), Cyrillic, general punctuation (bullets, dashes, bidi marks).
BASE_RANGES = ((0x20, 0x24F), (0x1E00, 0x1EFF), (0x2000, 0x206F), (0x20AC, 0x20AC))
FACE_NAMES = {
    "DejaVu Sans": "Vigie Sans",
    "Scheherazade": "Vigie Arabic",
    "Noto Sans CJK SC": "Vigie CJK",
    "Abyssinica SIL": "Vigie Ethiopic",
    "Lohit Bengali": "Vigie Bengali",
}
EXTRA_RANGES = {"DejaVu Sans": ((0x370, 0x52F), (0x590, 0x5FF))}


def _catalogue_chars(langs: tuple[str, ...]) -> set[str]:
    from babel.messages.pofile import read_po

    from vigie.breach import i18n
    from vigie.public import languages as public_languages

    chars: set[str] = set()
    for lang in langs:
        # The notices' catalogue and the public service's (its report letters).
        for po in (i18n.po_path(lang), public_languages.po_path(lang)):
            with po.open("rb") as f:
                for message in read_po(f):
                    chars.update(str(message.string or ""))
        for month in range(1, 13):
            chars.update(format_date(date(2026, month, 28), "long", locale=i18n.babel_locale(lang)))
        chars.update("0123456789")
    return chars


@dataclass(frozen=True)
class PreparedFonts:
    """Subset fonts ready for WeasyPrint: their CSS and what each can draw."""

    css: str
    covered: dict[str, frozenset[int]]  # family -> code points of its prepared font
    files: tuple[Path, ...] = ()

    def stack(self, lang: str) -> str:
        """CSS ``font-family`` of a language, naming the prepared faces."""
        return ", ".join(f'"{FACE_NAMES[f]}"' for f in stack(lang))

    def missing(self, text: str, lang: str) -> set[str]:
        """Characters of ``text`` that the prepared fonts of ``lang`` cannot draw."""
        covered: set[int] = set()
        for family in stack(lang):
            covered |= self.covered[family]
        return {c for c in set(text) if _needs_glyph(c) and ord(c) not in covered}

    def require(self, text: str, lang: str) -> None:
        """Raise :class:`ConfigError` if a character of ``text`` would render as tofu."""
        missing = self.missing(text, lang)
        if missing:
            shown = ", ".join(f"U+{ord(c):04X} {unicodedata.name(c, '?')}" for c in sorted(missing))
            raise ConfigError(f"no prepared font draws these characters for {lang!r}: {shown}")


def _langs_of(family: str) -> tuple[str, ...]:
    from vigie.breach import i18n

    return tuple(lang for lang in i18n.LANGUAGES if family in stack(lang))


def _subset(family: str, target: Path, unicodes: set[int]) -> None:
    with _open_font(family) as font:
        _subset_font(font, target, unicodes)


def _subset_font(font: Any, target: Path, unicodes: set[int]) -> None:
    from fontTools import subset as ft_subset  # type: ignore[import-untyped]

    options = ft_subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    subsetter = ft_subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(unicodes))
    subsetter.subset(font)
    tmp = target.with_suffix(".tmp")
    font.save(str(tmp))
    tmp.replace(target)


def prepare(cache_dir: Path) -> PreparedFonts:
    """Subset every family once into ``cache_dir`` (reused while fonts and catalogues hold)."""
    cache_dir = cache_dir.resolve()  # the CSS names the files by absolute file:// URI
    cache_dir.mkdir(parents=True, exist_ok=True)
    rules, covered, files = [], {}, []
    for family, face in FACE_NAMES.items():
        wanted = {
            c for lo, hi in BASE_RANGES + EXTRA_RANGES.get(family, ()) for c in range(lo, hi + 1)
        }
        wanted |= {ord(c) for c in _catalogue_chars(_langs_of(family))}
        available = coverage(family)
        unicodes = wanted & available
        path, _ = font_file(family)
        digest = hashlib.sha256(
            f"{path}:{path.stat().st_mtime_ns}:{sorted(unicodes)}".encode()
        ).hexdigest()[:16]
        target = cache_dir / f"{face.replace(' ', '-')}-{digest}.otf"
        if not target.exists():
            _subset(family, target, unicodes)
        rules.append(f'@font-face {{ font-family: "{face}"; src: url("{target.as_uri()}"); }}')
        covered[family] = frozenset(unicodes)
        files.append(target)
    return PreparedFonts(css="\n".join(rules), covered=covered, files=tuple(files))


if __name__ == "__main__":
    for family in PACKAGES:
        try:
            path, _ = font_file(family)
            print(f"ok       {family}: {path}")
        except ConfigError as exc:
            print(f"MISSING  {exc}")
