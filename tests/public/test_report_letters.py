""" "Who saw my file?" by post: the report printed as a PDF letter to the address on file,
in the person's language, each line with its audit references; request and delivery
audited; the page the same for every contact."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.breach.conftest import prepared_fonts  # noqa: F401 - the run's letter fonts
from tests.public.conftest import Public
from vigie.audit.actions import Action
from vigie.audit.canonical import decode_subjects
from vigie.audit.models import AuditEvent
from vigie.breach.fonts import PreparedFonts
from vigie.cli.app import app as cli
from vigie.cli.context import Instance
from vigie.public.disclosures import disclosure_report
from vigie.public.models import ReportRequest
from vigie.public.report_letters import letters_dir

GRACE = "grace.mensah@example.org"  # index 1, English, exposed by the incident
NOBODY = "nobody@example.org"


@pytest.fixture
def letters(public: Public, prepared_fonts: PreparedFonts) -> Path:  # noqa: F811
    """The letters outbox; the fonts the run prepared once put in the instance's cache."""
    cache = public.settings.data_dir / "cache" / "fonts"
    cache.mkdir(parents=True, exist_ok=True)
    for font in prepared_fonts.files:
        shutil.copy(font, cache / font.name)
    return letters_dir(public.settings)


def _ask(public: Public, contact: str, *, lang: str, delivery: str = "letter") -> tuple[int, str]:
    with public.client() as c:
        r = c.post("/my-file", data={"contact": contact, "lang": lang, "delivery": delivery})
    return r.status_code, r.text


def _text(path: Path) -> str:
    """The letter's text, table cells' line breaks folded into single spaces."""
    pdf = pdfium.PdfDocument(str(path))
    try:
        text = " ".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    finally:
        pdf.close()
    return " ".join(text.split())


def _letter(letters: Path) -> Path:
    (path,) = sorted(letters.glob("report-*.pdf"))
    assert not list(letters.glob("*.tmp"))
    return path


def test_the_page_offers_a_letter_and_answers_alike(public: Public) -> None:
    with public.client() as c:
        form = c.get("/my-file?lang=en").text
    assert 'name="delivery" value="letter"' in form
    assert "A letter to the postal address we have on file" in form
    known = _ask(public, GRACE, lang="en")
    unknown = _ask(public, NOBODY, lang="en")
    link = _ask(public, NOBODY, lang="en", delivery="link")
    assert known == unknown == link
    assert known[0] == 200 and "a message has been sent to it" in known[1]


def test_a_letter_goes_to_the_address_on_file_with_each_lines_references(
    public: Public, disclosed: dict[str, int], letters: Path
) -> None:
    _ask(public, GRACE, lang="en")
    _ask(public, NOBODY, lang="en")
    public.drain()
    assert public.sink.messages == []  # no e-mail: the report went by post
    text = _text(_letter(letters))
    grace = public.person(1)
    assert f"{grace.given_name} {grace.family_name}" in text
    assert grace.address_line in text and f"{grace.postal_code} {grace.city}" in text
    assert "Your disclosure report" in text
    assert "Lingua SAS (fictitious)" in text and "REF-lingua" in text
    assert "In a known leak" in text and "February 3, 2026" in text
    assert "09:30" not in text  # the day, never the time
    with public.sessions() as s:
        report = disclosure_report(s, subject_id=grace.id)
        (row,) = s.scalars(select(ReportRequest))
    assert len(report.lines) == 2
    for line in report.lines:  # each line names its events and its checked checkpoint
        events = ", ".join(f"#{seq}" for seq in line.seqs)
        assert re.search(rf"events {re.escape(events)}, checkpoint #\d+", text), text
    assert f"R-{row.id}" in text
    assert row.channel == "letter" and row.token_hash is None and row.lang == "en"
    assert row.sent_at is not None and row.opened_at is not None
    assert _letter(letters).name == f"report-{row.id}.pdf"


def test_request_and_delivery_are_audited_and_listed(
    public: Public, disclosed: dict[str, int], letters: Path
) -> None:
    _ask(public, GRACE, lang="en")
    public.drain()
    with public.sessions() as s:
        (asked,) = s.scalars(
            select(AuditEvent).where(AuditEvent.action == Action.PUBLIC_REPORT_REQUEST.value)
        )
        (delivered,) = s.scalars(
            select(AuditEvent).where(AuditEvent.action == Action.PUBLIC_REPORT_DELIVER.value)
        )
        (row,) = s.scalars(select(ReportRequest))
    request = json.loads(asked.detail or "{}")
    assert request["delivery"] == "letter" and request["requests"] == [row.id]
    detail = json.loads(delivered.detail or "{}")
    assert detail["channel"] == "letter" and detail["request"] == row.id
    assert detail["lines"] == 2 and detail["unproven_lines"] == 0
    assert decode_subjects(bytes(delivered.subjects)) == [public.subject_ids[1]]
    assert GRACE not in (asked.detail or "") + (delivered.detail or "")
    instance = Instance(settings=public.settings, _engine=public.engine)
    result = CliRunner().invoke(cli, ["requests", "list", "--json"], obj=instance)
    assert result.exit_code == 0, result.output
    (listed,) = json.loads(result.output)
    assert listed["channel"] == "letter" and listed["state"] == "printed"
    assert listed["expires_at"] is None and listed["ref"] == "CIR-2025-000002"


def test_an_arabic_letter_reads_right_to_left(
    public: Public, disclosed: dict[str, int], letters: Path
) -> None:
    _ask(public, GRACE, lang="ar")
    public.drain()
    path = _letter(letters)
    text = _text(path)
    # Words of the title, the table's heading and the reference line (extraction splits
    # the lam-alef ligature, so words without one).
    for word in ("تقرير", "بياناتك", "مرجع", "الرسالة", "الجهات"):
        assert word in text, word
    assert "REF-lingua" in text and "Lingua SAS" in text  # Latin values stay left to right
    with public.sessions() as s:
        (row,) = s.scalars(select(ReportRequest))
    assert row.lang == "ar"
    pdf = pdfium.PdfDocument(str(path))
    try:  # the title is set at the right margin (right to left), not the left one
        page = pdf[0]
        width = page.get_width()
        textpage = page.get_textpage()
        rects = [textpage.get_charbox(i) for i in range(textpage.count_chars())]
        title = "تقرير"
        start = textpage.get_text_range().find(title)
        if start < 0:
            start = textpage.get_text_range().find(title[::-1])
        assert start >= 0
        left, _, right, _ = rects[start]
        assert left > width / 2 and right > width / 2
    finally:
        pdf.close()


def test_the_dpo_prints_a_letter_for_a_request_by_post(
    public: Public, disclosed: dict[str, int], letters: Path
) -> None:
    instance = Instance(settings=public.settings, _engine=public.engine)
    result = CliRunner().invoke(
        cli, ["requests", "letter", "CIR-2025-000002", "--lang", "prs"], obj=instance
    )
    assert result.exit_code == 0, result.output
    text = _text(_letter(letters))
    assert "REF-lingua" in text
    with public.sessions() as s:
        (row,) = s.scalars(select(ReportRequest))
        actions = [e.action for e in s.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
    assert row.lang == "prs" and row.contact_tag is None and row.channel == "letter"
    assert [a for a in actions if a.startswith("public:")] == [
        Action.PUBLIC_REPORT_DELIVER.value,
        Action.PUBLIC_REPORT_REQUEST.value,
    ]
    missing = CliRunner().invoke(cli, ["requests", "letter", "CIR-0000-000000"], obj=instance)
    assert missing.exit_code != 0


def test_letters_share_the_daily_cap_per_contact(
    public: Public, disclosed: dict[str, int], letters: Path
) -> None:
    for _ in range(4):
        _ask(public, GRACE, lang="en")
    public.drain()
    assert len(list(letters.glob("report-*.pdf"))) == 3  # public_messages_per_contact: 3/day


def test_the_json_endpoint_asks_for_a_letter_too(
    public: Public, disclosed: dict[str, int], letters: Path
) -> None:
    with public.client() as c:
        known = c.post(
            "/json/disclosure-report", json={"contact": GRACE, "lang": "uk", "delivery": "letter"}
        )
        unknown = c.post("/json/disclosure-report", json={"contact": NOBODY, "delivery": "letter"})
        wrong = c.post("/json/disclosure-report", json={"contact": GRACE, "delivery": "pigeon"})
    assert known.status_code == unknown.status_code == 202 and known.json() == unknown.json()
    assert wrong.status_code == 422
    public.drain()
    assert public.sink.messages == []
    assert "REF-lingua" in _text(_letter(letters))
    with public.sessions() as s:
        (row,) = s.scalars(select(ReportRequest))
    assert row.lang == "uk" and row.channel == "letter"
