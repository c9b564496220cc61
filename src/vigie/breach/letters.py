"""Postal letters as PDF (WeasyPrint): one file per person, one merged file per batch.

Every letter's text is checked against its fonts first (:mod:`vigie.breach.fonts`): a
letter that would show an empty box instead of a character is refused, not printed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vigie.breach import fonts

# WeasyPrint and fontTools log font subsetting at INFO/WARNING; none of it is personal,
# but it is noise in the CLI.
for _name in ("weasyprint", "fontTools"):
    logging.getLogger(_name).setLevel(logging.ERROR)


def render_document(html: str, *, languages: Sequence[str], prepared: fonts.PreparedFonts) -> Any:
    """Lay out one letter (a WeasyPrint document), after checking every glyph exists."""
    from weasyprint import HTML  # imported on first use: it takes seconds to load

    for lang in languages:
        prepared.require(html, lang)
    return HTML(string=html).render()


def render_pdf(html: str, *, languages: Sequence[str], prepared: fonts.PreparedFonts) -> bytes:
    """One letter as PDF bytes."""
    pdf: bytes = render_document(html, languages=languages, prepared=prepared).write_pdf()
    return pdf


def merge(documents: Sequence[Any], target: Path) -> Path:
    """Write the given laid-out letters as one PDF for the printer."""
    if not documents:
        raise ValueError("no letters to merge")
    pages = [page for doc in documents for page in doc.pages]
    documents[0].copy(pages).write_pdf(target)
    return target
