"""Disclosure reports ("who saw my file?") delivered only to the contact on file.

A request goes the self-check's way (the page queues it and always answers alike).
Off the request path, :func:`send_report_links` finds the people whose contact on file
is the contact typed, and sends each, at that contact, a link to their report: it opens
once (:func:`open_report`), within ``public_report_link_minutes``, in the language the
person chose. The link's secret is in the message only; the store keeps its SHA-256.
Messages to one contact share the self-check's daily cap (:mod:`vigie.public.caps`).
Each request is one ``public:report-request`` event and each opened report one
``public:report-deliver`` event naming the audit events its lines rest on;
``vigie requests list`` shows both.
"""

from __future__ import annotations

import hashlib
import logging
import secrets as random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigie.audit import trail
from vigie.audit.actions import Action
from vigie.breach import i18n
from vigie.breach.channels import Bounced, Channel, DeliveryFailed, Outgoing
from vigie.errors import NotFound
from vigie.public import caps, pages
from vigie.public.contacts import Contact, contact_key, contact_tag
from vigie.public.disclosures import DisclosureReport, disclosure_report, prove_lines
from vigie.public.limiter import RateLimited
from vigie.public.models import ReportRequest
from vigie.public.report_letters import ReportLetters, print_report
from vigie.public.selfcheck import ACTOR, Answer, people_with
from vigie.registry.models import Subject
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings

log = logging.getLogger(__name__)
PATH = "/report/"


class LinkNotValid(NotFound):
    """The link is unknown, already opened, or expired (all answer alike)."""


@dataclass(frozen=True)
class ReportLinkMessage(Outgoing):
    """The message carrying a report link; its key names this request."""

    request_id: int = 0

    @property
    def key(self) -> str:
        return f"report-{self.request_id}"


def token_hash(token: str) -> str:
    """What the store keeps of a link's secret."""
    return hashlib.sha256(token.encode()).hexdigest()


def link_url(settings: Settings, token: str) -> str:
    """The address of the report behind ``token``, as people reach the public service."""
    base = settings.public_url or settings.notice_check_url.rsplit("/", 1)[0]
    return f"{base.rstrip('/')}{PATH}{token}"


def _message(
    settings: Settings, *, person: Subject, channel: str, to: str, lang: str, url: str, row_id: int
) -> Outgoing:
    env = pages.environment(lang)
    values = {
        "controller": settings.controller_name,
        "phone": settings.dpo_phone,
        "email": settings.dpo_email,
        "minutes": settings.public_report_link_minutes,
        "url": url,
    }
    text = env.get_template("report_link.txt.j2").render(values).strip() + "\n"
    if channel == "sms":
        return ReportLinkMessage(0, person.id, "sms", to, (lang,), text=text, request_id=row_id)
    subject = env.get_template("report_link_subject.txt.j2").render(values).strip()
    body = env.get_template("report_link.html.j2").render(
        {
            **values,
            "phone": pages.ltr(values["phone"]),
            "email": pages.ltr(values["email"]),
            "minutes": pages.ltr(values["minutes"]),
        }
    )
    html = (
        f'<!DOCTYPE html><html lang="{lang}" dir="{i18n.direction(lang)}"><head>'
        f'<meta charset="utf-8"><title>{pages.isolate(subject)}</title></head>'
        f"<body>{body}</body></html>"
    )
    return ReportLinkMessage(
        0, person.id, "email", to, (lang,), subject, text, html, request_id=row_id
    )


def send_report_links(
    session: Session,
    *,
    contact: Contact,
    lang: str | None,
    settings: Settings,
    channels: Mapping[str, Channel],
    secrets: InstanceSecrets,
    now: Callable[[], datetime],
    letters: Callable[[], ReportLetters] | None = None,
) -> Answer:
    """Send each person whose contact on file is ``contact`` a link to their report, or,
    when ``letters`` is given (the person asked for a letter), print the report as a
    letter to their postal address on file (:mod:`vigie.public.report_letters`).

    The report is in ``lang`` when the person chose one on the page, else in their
    preferred language. Audited (``public:report-request``); commits.
    """
    people = people_with(session, contact)
    tag = contact_tag(contact_key(secrets), contact)
    channel = channels[contact.channel]
    sent: list[int] = []
    capped = False
    cap = caps.per_contact(settings)
    for person in people:
        try:
            caps.check(session, tag=tag, cap=cap, now=now())
        except RateLimited:
            capped = True
            break
        language = (
            lang if lang in i18n.LANGUAGES else i18n.languages_for(person.preferred_language)[0]
        )
        if letters is not None:
            sent.append(
                print_report(
                    session,
                    person=person,
                    lang=language,
                    settings=settings,
                    outbox=letters(),
                    now=now,
                    contact_tag=tag,
                )
            )
            continue
        token = random.token_urlsafe(32)
        at = now()
        row = ReportRequest(
            subject_id=person.id,
            channel=contact.channel,
            contact_tag=tag,
            lang=language,
            token_hash=token_hash(token),
            requested_at=at,
            expires_at=at + timedelta(minutes=settings.public_report_link_minutes),
        )
        session.add(row)
        session.flush()
        to = (person.email if contact.channel == "email" else person.phone) or ""
        message = _message(
            settings,
            person=person,
            channel=contact.channel,
            to=to,
            lang=language,
            url=link_url(settings, token),
            row_id=row.id,
        )

        def commit(r: ReportRequest = row) -> None:
            r.sent_at = now()
            session.commit()  # the channel's point of no return

        try:
            channel.deliver(message, commit=commit)
        except (Bounced, DeliveryFailed) as exc:
            log.warning("report link not delivered: %s", type(exc).__name__)
            session.rollback()
            continue
        sent.append(row.id)
    trail.append(
        session,
        action=Action.PUBLIC_REPORT_REQUEST,
        actor=ACTOR,
        subject_ids=[p.id for p in people],
        outcome="capped" if capped else "ok",
        detail={
            "channel": contact.channel,
            "delivery": "letter" if letters is not None else "link",
            "people": len(people),
            "requests": sent,
        },
    )
    session.commit()
    return Answer(people=len(people), sent=len(sent), capped=capped)


def _valid(session: Session, token: str, at: datetime, *, lock: bool) -> ReportRequest:
    query = select(ReportRequest).where(
        ReportRequest.token_hash == token_hash(token), ReportRequest.channel != "letter"
    )
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None or row.opened_at is not None or row.sent_at is None or row.expires_at <= at:
        raise LinkNotValid("this link is not valid (unknown, already used or expired)")
    return row


def check_link(session: Session, *, token: str, now: datetime) -> ReportRequest:
    """The request behind a link that can still be opened; :class:`LinkNotValid` if not."""
    return _valid(session, token, now, lock=False)


@dataclass(frozen=True)
class Opened:
    """An opened link: its request, the report, and each line's checked proof."""

    request: ReportRequest
    report: DisclosureReport
    checkpoints: tuple[int | None, ...]  # per line: the checkpoint that proves it


def open_report(session: Session, *, token: str, now: datetime) -> Opened:
    """Open a link, once: the request, the person's report and its lines' proofs. Audited
    (``public:report-deliver``) in the caller's transaction; :class:`LinkNotValid` if
    the link cannot be opened."""
    row = _valid(session, token, now, lock=True)
    row.opened_at = now
    report = disclosure_report(session, subject_id=row.subject_id)
    checkpoints = prove_lines(session, report)
    trail.append(
        session,
        action=Action.PUBLIC_REPORT_DELIVER,
        actor=ACTOR,
        subject_ids=[row.subject_id],
        detail={
            "request": row.id,
            "lines": len(report.lines),
            "leaks": [e.incident_id for e in report.leaks],
            "events": report.seqs[:1000],
            "unproven_lines": sum(1 for c in checkpoints if c is None),
        },
    )
    return Opened(row, report, checkpoints)


def _state(r: ReportRequest) -> str:
    if r.sent_at is None:
        return "not sent"
    if r.channel == "letter":
        return "printed"
    return "opened" if r.opened_at else "sent"


def list_requests(session: Session, *, limit: int = 100) -> Sequence[dict[str, Any]]:
    """The newest report requests first, as the DPO sees them (the person's ``ref``)."""
    rows = session.execute(
        select(ReportRequest, Subject.ref)
        .join(Subject, Subject.id == ReportRequest.subject_id)
        .order_by(ReportRequest.id.desc())
        .limit(limit)
    ).all()

    def at(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    return [
        {
            "id": r.id,
            "ref": ref,
            "channel": r.channel,
            "lang": r.lang,
            "requested_at": at(r.requested_at),
            "sent_at": at(r.sent_at),
            "expires_at": None if r.token_hash is None else at(r.expires_at),
            "opened_at": at(r.opened_at),
            "state": _state(r),
        }
        for r, ref in rows
    ]
