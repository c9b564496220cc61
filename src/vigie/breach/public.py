"""People no notice reached, and the public communication of Art. 34(3)(c) for them.

A person is *unreachable* when no channel delivered their notice: no usable contact on
any channel tried, or every attempt bounced. The public notice is drafted in French and
English and in every catalogue language of the unreachable people, as Markdown, HTML
and PDF, for the controller to publish (web site, press, display in offices).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigie.breach import i18n, incidents, letters
from vigie.breach.fonts import PreparedFonts
from vigie.breach.models import IncidentExposure, NoticeDelivery
from vigie.breach.notices import NoticeContext, NoticeRenderer
from vigie.registry.models import Subject


@dataclass(frozen=True)
class Unreachable:
    """A person whose notice no channel delivered, and why (per channel tried)."""

    ref: str
    language: str
    reasons: dict[str, str]  # channel -> status (no_contact, bounced, failed, sending)


def unreachable(session: Session, *, incident_id: int) -> list[Unreachable]:
    """Affected people that no notice reached so far, by ``ref``."""
    statuses: dict[int, dict[str, str]] = defaultdict(dict)
    for sid, channel, status in session.execute(
        select(NoticeDelivery.subject_id, NoticeDelivery.channel, NoticeDelivery.status).where(
            NoticeDelivery.incident_id == incident_id
        )
    ):
        statuses[sid][channel] = status
    out = []
    stmt = (
        select(Subject.id, Subject.ref, Subject.preferred_language)
        .join(IncidentExposure, IncidentExposure.subject_id == Subject.id)
        .where(IncidentExposure.incident_id == incident_id)
        .order_by(Subject.ref)
    )
    for sid, ref, lang in session.execute(stmt):
        seen = statuses.get(sid, {})
        if seen and "sent" not in seen.values():
            out.append(Unreachable(ref=ref, language=lang, reasons=dict(seen)))
    return out


@dataclass(frozen=True)
class PublicNotice:
    """The files of a drafted public notice."""

    markdown: Path
    html: Path
    pdf: Path
    languages: tuple[str, ...]
    people: int


def draft_public_notice(
    session: Session,
    *,
    incident_id: int,
    context: NoticeContext,
    out_dir: Path,
    prepared: PreparedFonts,
) -> PublicNotice:
    """Draft the Art. 34(3)(c) public communication of an incident into ``out_dir``."""
    summary = incidents.exposure_summary(session, incident_id=incident_id)
    missed = unreachable(session, incident_id=incident_id)
    langs = list(i18n.FALLBACK)
    for person in missed:
        for lang in i18n.languages_for(person.language):
            if lang not in langs:
                langs.append(lang)
    renderer = NoticeRenderer(context, letter_fonts=prepared)
    fields = set(summary.by_field)
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / f"public-notice-incident-{incident_id}.md"
    md.write_text(
        renderer.public_markdown(count=summary.people, fields=fields, languages=langs),
        encoding="utf-8",
    )
    page = renderer.public_html(count=summary.people, fields=fields, languages=langs)
    html = md.with_suffix(".html")
    html.write_text(page, encoding="utf-8")
    pdf = md.with_suffix(".pdf")
    pdf.write_bytes(letters.render_pdf(page, languages=langs, prepared=prepared))
    return PublicNotice(md, html, pdf, tuple(langs), summary.people)
