"""Refresh the console's French catalogue from the source strings (``make docs`` runs it).

Extracts every message of ``src/vigie/console`` (templates and ``N_``/``gettext`` calls),
keeps the French translations already in ``console.po``, and writes the catalogue back
with the new messages untranslated (the test ``tests/console/test_i18n.py`` fails until
they are translated) and the messages no longer used dropped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
CONSOLE = ROOT / "src" / "vigie" / "console"
PO = CONSOLE / "locale" / "fr" / "LC_MESSAGES" / "console.po"
METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "N_": None}


def source_messages() -> list[str]:
    """Every message id used by the console, in first-seen order."""
    seen: dict[str, None] = {}
    for _file, _line, message, _comments, _context in extract_from_dir(
        CONSOLE, METHODS, keywords=KEYWORDS
    ):
        if isinstance(message, str) and message:
            seen.setdefault(message, None)
    return list(seen)


def main() -> None:
    old: dict[str, str] = {}
    dates: dict[str, Any] = {}
    if PO.exists():
        with PO.open("rb") as f:
            previous = read_po(f)
        old = {m.id: m.string for m in previous if m.id and isinstance(m.id, str)}
        # Unchanged dates: running this twice changes nothing.
        dates = {"creation_date": previous.creation_date}
    catalog = Catalog(locale="fr", domain="console", project="Vigie", fuzzy=False, **dates)
    for message in source_messages():
        catalog.add(message, old.get(message, ""))
    PO.parent.mkdir(parents=True, exist_ok=True)
    with PO.open("wb") as f:
        write_po(f, catalog, omit_header=False, sort_output=False, no_location=True, width=100)


if __name__ == "__main__":
    main()
