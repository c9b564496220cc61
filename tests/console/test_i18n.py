"""The console's French catalogue holds every message the console shows."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from babel.messages.pofile import read_po

from vigie.console.i18n import Formatter, negotiate, po_path

ROOT = Path(__file__).resolve().parents[2]


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "console_catalogue", ROOT / "tools" / "console_catalogue.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_console_message_has_a_french_translation() -> None:
    with po_path("fr").open("rb") as f:
        catalog = {m.id: m.string for m in read_po(f) if m.id}
    used = _tool().source_messages()
    assert used, "no message found in the console's sources"
    untranslated = [m for m in used if not catalog.get(m)]
    assert not untranslated, f"run tools/console_catalogue.py and translate: {untranslated}"
    stale = set(catalog) - set(used)
    assert not stale, f"messages no longer used (run tools/console_catalogue.py): {stale}"


def test_formatter_formats_for_the_language() -> None:
    assert Formatter("fr").number(1234567) == "1\u202f234\u202f567"
    assert Formatter("en").number(1234567) == "1,234,567"
    assert Formatter("fr").gettext("Processors") == "Sous-traitants"
    assert Formatter("en").gettext("Processors") == "Processors"


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        (None, "fr"),
        ("", "fr"),
        ("en-US,en;q=0.9", "en"),
        ("de-DE,en;q=0.5,fr;q=0.8", "fr"),
        ("de-DE, en;q=0.5", "en"),
        ("en;q=0, fr", "fr"),
        ("en;q=bad", "fr"),
    ],
)
def test_language_before_sign_in_follows_the_browser(header: str | None, lang: str) -> None:
    assert negotiate(header) == lang
