"""Disclosure reports by post: the report printed as a PDF letter to the address on file.

A person who asks for a letter on the "who saw my file?" page (or the DPO, for a request
that came by post or at the counter: ``vigie requests letter REF``) gets the report
itself, not a link: :func:`print_report` builds it as the link would
(:func:`vigie.public.disclosures.disclosure_report`, each line's inclusion proof checked
by :func:`vigie.public.disclosures.prove_lines`, fail closed), writes it in the person's
language as a PDF letter (WeasyPrint, the notices' prepared fonts: a missing glyph is an
error, never an empty box) into the letters outbox the notices use
(``OUTBOX/letters-reports/report-ID.pdf``), and records it: a
``public_report_requests`` row (channel ``letter``, opened when printed) and one
``public:report-deliver`` audit event naming the events its lines rest on.

The file is written under a temporary name, the row committed, then the file renamed
into place (the notices' point of no return): a letter in the outbox has its row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from markupsafe import Markup
from sqlalchemy.orm import Session

from vigie.audit import trail
from vigie.audit.actions import Action
from vigie.breach import fonts, i18n, letters
from vigie.breach.channels import outbox_dir
from vigie.public import incident_pages, languages, pages
from vigie.public.disclosures import disclosure_report, prove_lines
from vigie.public.models import ReportRequest
from vigie.public.report_render import report_values
from vigie.public.selfcheck import ACTOR
from vigie.registry.models import Subject
from vigie.settings import Settings

CHANNEL = "letter"
TITLE = "Your disclosure report"


def letters_dir(settings: Settings) -> Path:
    """Where report letters go: next to the notices' letters, in the outbox."""
    return outbox_dir(settings) / "letters-reports"


@dataclass(frozen=True)
class ReportLetters:
    """The letters outbox of disclosure reports, with the fonts letters are set in."""

    directory: Path
    prepared: fonts.PreparedFonts

    @classmethod
    def from_settings(cls, settings: Settings) -> ReportLetters:
        """The instance's outbox and its prepared fonts (cached under the data directory)."""
        prepared = fonts.prepare(settings.data_dir / "cache" / "fonts")
        return cls(letters_dir(settings), prepared)

    def write(self, html: str, *, lang: str, name: str, commit: Callable[[], None]) -> Path:
        """Lay ``html`` out as ``name``.pdf, calling ``commit()`` before it is put in place."""
        document = letters.render_document(html, languages=(lang,), prepared=self.prepared)
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / f"{name}.pdf"
        tmp = target.with_suffix(".tmp")
        document.write_pdf(tmp)
        try:
            commit()
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        tmp.replace(target)
        return target


def address_of(person: Subject) -> str:
    """The postal address on file, as printed in the letter's window."""
    return (
        f"{person.given_name} {person.family_name}\n{person.address_line}\n"
        f"{person.postal_code} {person.city}"
    )


def letter_html(
    session: Session,
    *,
    person: Subject,
    lang: str,
    settings: Settings,
    prepared: fonts.PreparedFonts,
    reference: int,
    on: datetime,
) -> tuple[str, dict[str, object]]:
    """The letter of ``person``'s report in ``lang`` (HTML for WeasyPrint), and what the
    audit records of it. Each line's proof is checked first (fail closed)."""
    report = disclosure_report(session, subject_id=person.id)
    checkpoints = prove_lines(session, report)
    published = set(incident_pages.published_ids(session))
    values = report_values(report, checkpoints, lang, published)
    base = (settings.public_url or settings.notice_check_url.rsplit("/", 1)[0]).rstrip("/")
    for leak in values["leaks"]:
        leak["url"] = pages.ltr(f"{base}/incidents/{leak['id']}")
    gettext = languages.translations(lang).gettext
    html = (
        pages.environment(lang)
        .get_template("report_letter.html.j2")
        .render(
            lang=languages.html_lang(lang),
            dir=i18n.direction(lang),
            title=gettext(TITLE),
            font_faces=Markup(prepared.css),  # noqa: S704 - our own @font-face rules
            fonts=prepared.stack(lang),
            address_fonts=prepared.stack("fr"),
            address=address_of(person),
            controller=settings.controller_name,
            phone=pages.ltr(settings.dpo_phone),
            email=pages.ltr(settings.dpo_email),
            printed_on=pages.isolate(pages.long_date(on.date(), lang)),
            reference=pages.ltr(f"R-{reference}"),
            **values,
        )
    )
    detail: dict[str, object] = {
        "request": reference,
        "channel": CHANNEL,
        "lines": len(report.lines),
        "leaks": [e.incident_id for e in report.leaks],
        "events": report.seqs[:1000],
        "unproven_lines": sum(1 for c in checkpoints if c is None),
    }
    return html, detail


def print_report(
    session: Session,
    *,
    person: Subject,
    lang: str,
    settings: Settings,
    outbox: ReportLetters,
    now: Callable[[], datetime],
    contact_tag: str | None,
) -> int:
    """Print ``person``'s report as a letter into the outbox; the request's id. Records the
    request and audits the delivery (``public:report-deliver``); commits."""
    language = lang if lang in i18n.LANGUAGES else i18n.languages_for(person.preferred_language)[0]
    at = now()
    row = ReportRequest(
        subject_id=person.id,
        channel=CHANNEL,
        contact_tag=contact_tag,
        lang=language,
        token_hash=None,
        requested_at=at,
        expires_at=at,  # nothing to open later: the letter is the report
    )
    session.add(row)
    session.flush()
    html, detail = letter_html(
        session,
        person=person,
        lang=language,
        settings=settings,
        prepared=outbox.prepared,
        reference=row.id,
        on=at,
    )
    trail.append(
        session,
        action=Action.PUBLIC_REPORT_DELIVER,
        actor=ACTOR,
        subject_ids=[person.id],
        detail=detail,
    )

    def commit() -> None:
        row.sent_at = row.opened_at = now()
        session.commit()

    outbox.write(html, lang=language, name=f"report-{row.id}", commit=commit)
    return row.id
