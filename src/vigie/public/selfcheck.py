"""Answering "was I affected?" at the contact on file, never on screen.

:func:`answer` runs off the request path, as a job (:mod:`vigie.public.tasks`). It finds the people
of the registry whose e-mail address or phone number is the contact; for each, it sends
to that contact, through the notice channels, the notice of every incident that exposed
them (which fields, what to do, the verification code), or one message saying they were
affected by none. A contact nobody has gets nothing. Messages to one contact are capped
per day (:mod:`vigie.public.caps`); past it the request is dropped. Each answer is
one ``public:self-check`` audit event: the people's ids and counts, never the contact.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from limits import RateLimitItem
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from vigie.audit import trail
from vigie.audit.actions import Action
from vigie.breach import i18n
from vigie.breach.channels import Bounced, Channel, DeliveryFailed, Outgoing
from vigie.breach.codes import code_key, code_tag, make_code, tag_key
from vigie.breach.models import IncidentExposure
from vigie.breach.notices import NoticeRenderer, Recipient
from vigie.breach.notify import context_for
from vigie.public import caps, pages
from vigie.public.contacts import Contact, contact_key, contact_tag
from vigie.public.limiter import RateLimited
from vigie.public.models import PublicMessage
from vigie.registry.models import Subject
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings

log = logging.getLogger(__name__)
ACTOR = "system:public"


@dataclass(frozen=True)
class SelfCheckMessage(Outgoing):
    """A message of the self-check; its key names this message, not the incident's notice."""

    serial: str = ""

    @property
    def key(self) -> str:
        return f"selfcheck-{self.serial}"


@dataclass(frozen=True)
class Answer:
    """What one self-check or report request did (counts only): the people with that
    contact on file, the messages sent, and whether the daily cap stopped one."""

    people: int
    sent: int
    capped: bool


def people_with(session: Session, contact: Contact) -> list[Subject]:
    """The people of the registry whose contact on file is ``contact`` (at most 20)."""
    cond: ColumnElement[bool]
    if contact.channel == "email":
        cond = Subject.email.in_({contact.value, contact.value.lower()})
    else:
        cond = Subject.phone == contact.value
    return list(session.scalars(select(Subject).where(cond).order_by(Subject.id).limit(20)))


def _exposures(session: Session, subject_id: int) -> list[tuple[int, list[str]]]:
    rows = session.execute(
        select(IncidentExposure.incident_id, IncidentExposure.fields)
        .where(IncidentExposure.subject_id == subject_id)
        .order_by(IncidentExposure.incident_id)
    )
    return [(i, list(f)) for i, f in rows]


class Composer:
    """Writes the self-check's messages: the incidents' own notices, or "not affected"."""

    def __init__(self, settings: Settings, secrets: InstanceSecrets) -> None:
        self.settings = settings
        self.codes = code_key(secrets)
        self.tags = tag_key(secrets)
        self._renderers: dict[int, NoticeRenderer] = {}

    def notices(
        self, session: Session, person: Subject, channel: str
    ) -> Iterator[tuple[int | None, str | None, Outgoing]]:
        """(incident, code tag, message) of each message ``person`` is owed on ``channel``,
        addressed to their contact on file (not to the contact as it was typed)."""
        to = (person.email if channel == "email" else person.phone) or ""
        exposures = _exposures(session, person.id)
        langs = i18n.languages_for(person.preferred_language)
        for incident_id, fields in exposures:
            renderer = self._renderers.get(incident_id)
            if renderer is None:
                ctx = context_for(self.settings, session, incident_id=incident_id)
                renderer = self._renderers[incident_id] = NoticeRenderer(ctx)
            code = make_code(self.codes, incident_id=incident_id, subject_id=person.id)
            r = Recipient(
                subject_id=person.id,
                ref=person.ref,
                name=f"{person.given_name} {person.family_name}",
                language=person.preferred_language,
                fields=frozenset(fields),
                code=code,
            )
            serial = uuid.uuid4().hex
            if channel == "email":
                mail = renderer.email(r)
                message = SelfCheckMessage(
                    incident_id,
                    person.id,
                    "email",
                    to,
                    langs,
                    mail.subject,
                    mail.text,
                    mail.html,
                    serial=serial,
                )
            else:
                message = SelfCheckMessage(
                    incident_id,
                    person.id,
                    "sms",
                    to,
                    langs,
                    text=renderer.sms(r),
                    serial=serial,
                )
            yield incident_id, code_tag(self.tags, code), message
        if not exposures:
            yield None, None, self.unaffected(person, channel, to)

    def unaffected(self, person: Subject, channel: str, to: str) -> Outgoing:
        """The message saying ``person`` was affected by no incident."""
        lang = i18n.languages_for(person.preferred_language)[0]
        env = pages.environment(lang)
        values = {
            "controller": self.settings.controller_name,
            "phone": self.settings.dpo_phone,
            "email": self.settings.dpo_email,
        }
        subject = env.get_template("unaffected_subject.txt.j2").render(values).strip()
        text = env.get_template("unaffected.txt.j2").render(values).strip() + "\n"
        body = env.get_template("unaffected.html.j2").render(
            {**values, "phone": pages.ltr(values["phone"]), "email": pages.ltr(values["email"])}
        )
        html = (
            f'<!DOCTYPE html><html lang="{lang}" dir="{i18n.direction(lang)}"><head>'
            f'<meta charset="utf-8"><title>{pages.isolate(subject)}</title></head>'
            f"<body>{body}</body></html>"
        )
        serial = uuid.uuid4().hex
        if channel == "sms":
            return SelfCheckMessage(0, person.id, "sms", to, (lang,), text=text, serial=serial)
        return SelfCheckMessage(
            0, person.id, "email", to, (lang,), subject, text, html, serial=serial
        )


def answer(
    session: Session,
    *,
    contact: Contact,
    composer: Composer,
    channels: Mapping[str, Channel],
    secrets: InstanceSecrets,
    cap: RateLimitItem,
    now: Callable[[], datetime],
) -> Answer:
    """Look ``contact`` up and send each person found their answer; audit it. Commits."""
    people = people_with(session, contact)
    tag = contact_tag(contact_key(secrets), contact)
    sent: list[int] = []
    incidents: set[int] = set()
    capped = False
    channel = channels[contact.channel]
    for person in people:
        for incident_id, code, message in composer.notices(session, person, contact.channel):
            try:
                caps.check(session, tag=tag, cap=cap, now=now())
            except RateLimited:
                capped = True
                break
            row = PublicMessage(
                subject_id=person.id,
                incident_id=incident_id,
                channel=contact.channel,
                contact_tag=tag,
                code_tag=code,
                sent_at=now(),
            )

            def commit(r: PublicMessage = row) -> None:
                session.add(r)
                session.commit()  # the channel's point of no return

            try:
                channel.deliver(message, commit=commit)
            except (Bounced, DeliveryFailed) as exc:
                log.warning("self-check message not delivered: %s", type(exc).__name__)
                session.rollback()
                continue
            sent.append(row.id)
            if incident_id is not None:
                incidents.add(incident_id)
        if capped:
            break
    trail.append(
        session,
        action=Action.PUBLIC_SELF_CHECK,
        actor=ACTOR,
        subject_ids=[p.id for p in people],
        outcome="capped" if capped else "ok",
        detail={
            "channel": contact.channel,
            "people": len(people),
            "messages": sent,
            "incidents": sorted(incidents),
        },
    )
    session.commit()
    return Answer(people=len(people), sent=len(sent), capped=capped)


def channels_from_settings(settings: Settings) -> dict[str, Channel]:
    """The self-check's channels: SMTP e-mail, and SMS through the outbox of the notices."""
    from vigie.breach.channels import OutboxSmsProvider, SmsChannel, SmtpChannel, outbox_dir

    return {
        "email": SmtpChannel(
            host=settings.smtp_host,
            port=settings.smtp_port,
            mail_from=settings.mail_from,
            user=settings.smtp_user,
            password=(
                settings.smtp_password.get_secret_value() if settings.smtp_password else None
            ),
        ),
        "sms": SmsChannel(OutboxSmsProvider(outbox_dir(settings) / "sms-self-check.jsonl")),
    }
