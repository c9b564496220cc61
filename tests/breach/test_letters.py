"""Letters as PDF: every script renders (no tofu), RTL values stay in order, merge works."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from vigie.breach import i18n, letters
from vigie.breach.fonts import PreparedFonts, prepare
from vigie.breach.notices import NoticeContext, NoticeRenderer, Recipient
from vigie.errors import ConfigError

CTX = NoticeContext(
    incident_id=3, controller="OFII", phone="+33 1 00 00 00 00",
    email="dpo@controller.example", check_url="https://controller.example/verifier",
    aware_on=date(2026, 1, 12),
)  # fmt: skip
FIELDS = frozenset({"given_name", "email", "phone", "nationality", "residence_status"})


def recipient(lang: str, name: str = "Layla Haddad") -> Recipient:
    return Recipient(
        subject_id=1,
        ref="CIR-2025-000001",
        name=name,
        language=lang,
        fields=FIELDS,
        code="7KQ2-M9XD",
        address="12 rue de l'Exemple\n75011 Paris",
    )


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_prepared_fonts_draw_every_catalogue(lang: str, prepared_fonts: PreparedFonts) -> None:
    html = NoticeRenderer(CTX, letter_fonts=prepared_fonts).letter_html(recipient(lang))
    assert prepared_fonts.missing(html, lang) == set()


def test_missing_glyph_is_an_error_not_tofu(prepared_fonts: PreparedFonts) -> None:
    html = NoticeRenderer(CTX, letter_fonts=prepared_fonts).letter_html(
        recipient("ka", name="ნინო ბერიძე")  # Georgian: no prepared font draws it
    )
    with pytest.raises(ConfigError, match="U\\+10DC GEORGIAN LETTER NAR"):
        letters.render_pdf(html, languages=("fr", "en"), prepared=prepared_fonts)


@pytest.mark.parametrize("lang", ["ar", "he", "zh", "ps", "uk", "ti", "bn"])
def test_letter_renders_and_keeps_values_readable(
    lang: str, prepared_fonts: PreparedFonts, tmp_path: Path
) -> None:
    html = NoticeRenderer(CTX, letter_fonts=prepared_fonts).letter_html(recipient(lang))
    pdf_bytes = letters.render_pdf(html, languages=(lang,), prepared=prepared_fonts)
    path = tmp_path / f"{lang}.pdf"
    path.write_bytes(pdf_bytes)
    pdf = pdfium.PdfDocument(str(path))
    text = "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    assert "OFII" in text and "Layla Haddad" in text
    if lang not in i18n.RTL:  # extraction returns RTL lines in visual order
        assert "7KQ2-M9XD" in text and "CIR-2025-000001" in text
        assert "+33 1 00 00 00 00" in text
    image = pdf[0].render(scale=0.5).to_pil().convert("L")
    assert image.getextrema()[0] < 100  # something dark was drawn
    del image
    pdf.close()


def test_merge_puts_every_letter_in_one_file(prepared_fonts: PreparedFonts, tmp_path: Path) -> None:
    renderer = NoticeRenderer(CTX, letter_fonts=prepared_fonts)
    docs = [
        letters.render_document(
            renderer.letter_html(recipient(lang)), languages=(lang,), prepared=prepared_fonts
        )
        for lang in ("fr", "ar")
    ]
    target = letters.merge(docs, tmp_path / "batch.pdf")
    pdf = pdfium.PdfDocument(str(target))
    assert len(pdf) == sum(len(d.pages) for d in docs)
    pdf.close()


def test_fonts_prepare_under_a_relative_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The default data directory is relative (``vigie-data``): the CSS still needs
    # absolute file URIs.
    monkeypatch.chdir(tmp_path)
    prepared = prepare(Path("relative") / "fonts")
    assert f'url("file://{tmp_path}' in prepared.css
    assert all(f.is_absolute() and f.exists() for f in prepared.files)


def test_a_letter_prints_a_qr_code_to_the_check_page(prepared_fonts: PreparedFonts) -> None:
    html = NoticeRenderer(CTX, letter_fonts=prepared_fonts).letter_html(recipient("fr"))
    assert f'class="segno"><title>{CTX.check_url}</title>' in html
    pdf = pdfium.PdfDocument(letters.render_pdf(html, languages=("fr",), prepared=prepared_fonts))
    text = "".join(page.get_textpage().get_text_range() for page in pdf)
    pdf.close()
    assert text.count(CTX.check_url) >= 2  # under the QR code, and in the code's sentence
