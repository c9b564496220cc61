"""Sending an incident's notices, idempotent and resumable, through the delivery log.

For each affected person and each channel asked for, the delivery log
(``notice_deliveries``) holds one row. A notice is *claimed* (row ``sending``, committed)
before it is handed to its channel, and marked ``sent`` (committed) at the channel's
point of no return. So, after a crash at any moment:

- ``sent``, ``bounced``, ``no_contact`` rows are final: never sent again;
- ``sending`` rows were never handed over (the point of no return was not reached) and
  ``failed`` rows failed temporarily: the next run sends them.

Killing a run and starting it again therefore sends every remaining notice once. One
run at a time per incident is enforced by an OS file lock (released by the kernel when
the process dies, so a killed run never blocks the next one).

Whom to tell, and which of their fields, comes from the incident's recorded exposures
(sealed: :mod:`vigie.audit.seals`) and the registry: a run starts behind the evidence gate
(:func:`vigie.audit.evidence.require_verified`) and sends nothing when they do not verify.
"""

from __future__ import annotations

import fcntl
import os
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from vigie.audit.actions import Action
from vigie.audit.anchors import Bound
from vigie.audit.evidence import require_verified
from vigie.breach import i18n, incidents
from vigie.breach.channels import Bounced, Channel, DeliveryFailed, Outgoing
from vigie.breach.clock import Clock, SystemClock
from vigie.breach.codes import code_key, code_tag, make_code, tag_key
from vigie.breach.models import IncidentExposure, NoticeDelivery
from vigie.breach.notices import NoticeContext, NoticeRenderer, Recipient
from vigie.errors import Denied, InvalidInput
from vigie.ops import metrics
from vigie.registry.models import Subject
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings

FINAL = frozenset({"sent", "bounced", "no_contact"})
CHUNK = 500
MAX_CONSECUTIVE_FAILURES = 20


@dataclass
class SendReport:
    """What a run did (counts only)."""

    dry_run: bool
    people: int = 0
    sent: Counter[str] = field(default_factory=Counter)  # by channel
    already: int = 0  # final before this run
    resent_in_doubt: int = 0  # claimed by a killed run, sent now
    bounced: int = 0
    failed: int = 0
    no_contact: int = 0
    languages: Counter[str] = field(default_factory=Counter)
    interrupted: bool = False

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready form."""
        return {
            "dry_run": self.dry_run,
            "people": self.people,
            "sent": dict(self.sent),
            "already": self.already,
            "resent_in_doubt": self.resent_in_doubt,
            "bounced": self.bounced,
            "failed": self.failed,
            "no_contact": self.no_contact,
            "languages": dict(self.languages),
            "interrupted": self.interrupted,
        }


@contextmanager
def run_lock(lock_dir: Path, incident_id: int) -> Iterator[None]:
    """Hold the per-incident notify lock, or refuse if another run holds it."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_dir / f"notify-{incident_id}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Denied(f"another notify run is in progress for incident {incident_id}") from None
        yield
    finally:
        os.close(fd)


def _address(subject: Subject) -> str:
    return f"{subject.address_line}\n{subject.postal_code} {subject.city}"


def _contact(subject: Subject, channel: str) -> str | None:
    if channel == "email":
        return subject.email or None
    if channel == "sms":
        return subject.phone or None
    return _address(subject) if subject.address_line and subject.postal_code else None


def _chunks(session: Session, incident_id: int) -> Iterator[list[tuple[Subject, list[str]]]]:
    last = 0
    while True:
        stmt = (
            select(Subject, IncidentExposure.fields)
            .join(IncidentExposure, IncidentExposure.subject_id == Subject.id)
            .where(IncidentExposure.incident_id == incident_id, Subject.id > last)
            .order_by(Subject.id)
            .limit(CHUNK)
        )
        rows = [(s, list(f)) for s, f in session.execute(stmt)]
        if not rows:
            return
        last = rows[-1][0].id
        yield rows


def require_decision(
    session: Session, *, incident_id: int, despite_assessment: str | None
) -> str | None:
    """Refuse to notify people before the risk assessment says Art. 34 applies.

    ``despite_assessment`` is the DPO's reason to send notices anyway. Returns the line to
    put on the incident's timeline when notices go against the assessment (None when the
    assessment calls for them).
    """
    incident = incidents.get_incident(session, incident_id=incident_id)
    risk = incident.risk
    if risk is None:
        raise Denied(f"incident {incident_id} has no risk assessment: run `vigie incident assess`")
    if risk.get("notify_people"):
        return None
    if despite_assessment is None:
        raise Denied(
            f"the risk assessment of incident {incident_id} does not call for notices "
            f"({risk.get('decision')}); use --despite-assessment REASON to send them anyway"
        )
    reason = despite_assessment.strip()
    if not reason:
        raise InvalidInput(
            "sending notices despite the assessment needs a reason (it is kept on the "
            "incident's timeline and in the audit trail)"
        )
    return (
        f"notices sent although the assessment ({risk.get('decision')}) does not call for "
        f"them: {reason}"
    )


def send_notices(
    sessions: sessionmaker[Session],
    *,
    incident_id: int,
    context: NoticeContext,
    channels: Mapping[str, Channel],
    secrets: InstanceSecrets,
    lock_dir: Path,
    actor: str,
    bound: Bound,
    renderer: NoticeRenderer | None = None,
    dry_run: bool = False,
    despite_assessment: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    clock: Clock | None = None,
) -> SendReport:
    """Send (or, with ``dry_run``, only render) every remaining notice of an incident.

    ``should_stop`` is asked between two notices (never inside one): the CLI wires it to
    SIGTERM and SIGINT, so ``kill`` or Ctrl-C stops the run at a clean point. Raises
    :class:`vigie.errors.IntegrityError` (nothing sent) when the trail, the exposures or the
    registry do not verify with the key of ``secrets``, or the trail is not anchored
    within ``bound``.
    """
    clock = clock or SystemClock()
    renderer = renderer or NoticeRenderer(context)
    key = code_key(secrets)
    tags = tag_key(secrets)
    report = SendReport(dry_run=dry_run)
    with sessions.begin() as session:
        overruled = require_decision(
            session, incident_id=incident_id, despite_assessment=despite_assessment
        )
        require_verified(
            session, public_key=secrets.audit_keys, bound=bound, purpose="notifying people"
        )
        total = incidents.exposure_count(session, incident_id=incident_id)
    with run_lock(lock_dir, incident_id), sessions() as session, _SentMarker(sessions) as marker:
        if overruled is not None and not dry_run:  # on the timeline before any notice leaves
            incidents.record_decision(session, incident_id=incident_id, summary=overruled,
                                      kind="notify_despite_assessment", actor=actor,
                                      clock=clock)  # fmt: skip
            session.commit()
        done = 0
        failures = 0
        for chunk in _chunks(session, incident_id):
            if report.interrupted:
                break
            ids = [s.id for s, _ in chunk]
            known = {
                (row.subject_id, row.channel): row
                for row in session.scalars(
                    select(NoticeDelivery).where(
                        NoticeDelivery.incident_id == incident_id,
                        NoticeDelivery.subject_id.in_(ids),
                    )
                )
            }
            session.commit()
            for subject, fields in chunk:
                if should_stop is not None and should_stop():
                    report.interrupted = True
                    break
                report.people += 1
                recipient = Recipient(
                    subject_id=subject.id,
                    ref=subject.ref,
                    name=f"{subject.given_name} {subject.family_name}",
                    language=subject.preferred_language,
                    fields=frozenset(fields),
                    code=make_code(key, incident_id=incident_id, subject_id=subject.id),
                    address=_address(subject),
                )
                langs = i18n.languages_for(recipient.language)
                report.languages["+".join(langs)] += 1
                for name, channel in channels.items():
                    row = known.get((subject.id, name))
                    if row is not None and row.status in FINAL:
                        report.already += 1
                        continue
                    to = _contact(subject, name)
                    if to is None:
                        report.no_contact += 1
                        if not dry_run:
                            metrics.NOTICE_DELIVERIES.labels(name, "no_contact").inc()
                            _record(session, row, incident_id, subject.id, name, langs,
                                    "no_contact", clock)  # fmt: skip
                        continue
                    message = _outgoing(renderer, recipient, name, to, langs, incident_id)
                    if dry_run:
                        report.sent[name] += 1
                        continue
                    if row is not None and row.status == "sending":
                        report.resent_in_doubt += 1
                    row = _record(session, row, incident_id, subject.id, name, langs,
                                  "sending", clock, attempt=True,
                                  tag=code_tag(tags, recipient.code))  # fmt: skip
                    claimed = row

                    def mark_sent(r: NoticeDelivery = claimed) -> None:
                        marker.sent(r.id)

                    try:
                        channel.deliver(message, commit=mark_sent)
                    except Bounced as exc:
                        _mark(session, claimed, "bounced", str(exc))
                        metrics.NOTICE_DELIVERIES.labels(name, "bounced").inc()
                        report.bounced += 1
                        continue
                    except DeliveryFailed as exc:
                        _mark(session, claimed, "failed", str(exc))
                        metrics.NOTICE_DELIVERIES.labels(name, "failed").inc()
                        report.failed += 1
                        failures += 1
                        if failures >= MAX_CONSECUTIVE_FAILURES:
                            raise
                        continue
                    failures = 0
                    metrics.NOTICE_DELIVERIES.labels(name, "sent").inc()
                    report.sent[name] += 1
                done += 1
                if progress:
                    progress(done, total)
            session.expunge_all()
        for channel in channels.values():
            channel.close()
    if not dry_run:
        with sessions.begin() as session:
            incidents.record_decision(
                session,
                incident_id=incident_id,
                kind="notify",
                summary=("interrupted; " if report.interrupted else "")
                + f"notices: {sum(report.sent.values())} sent, {report.already} already "
                f"done, {report.bounced} bounced, {report.failed} failed, "
                f"{report.no_contact} without contact",
                actor=actor,
                detail={"channels": sorted(channels), **_counts(report)},
                action=Action.INCIDENT_NOTIFY,
                clock=clock,
            )
    return report


def _counts(report: SendReport) -> dict[str, int]:
    return {
        "sent": sum(report.sent.values()),
        "already": report.already,
        "bounced": report.bounced,
        "failed": report.failed,
        "no_contact": report.no_contact,
        "resent_in_doubt": report.resent_in_doubt,
    }


def _outgoing(
    renderer: NoticeRenderer,
    recipient: Recipient,
    channel: str,
    to: str,
    langs: tuple[str, ...],
    incident_id: int,
) -> Outgoing:
    subject_id = recipient.subject_id
    if channel == "email":
        mail = renderer.email(recipient)
        return Outgoing(incident_id, subject_id, "email", to, langs, mail.subject, mail.text,
                        mail.html)  # fmt: skip
    if channel == "sms":
        return Outgoing(incident_id, subject_id, "sms", to, langs, text=renderer.sms(recipient))
    html = renderer.letter_html(recipient)
    return Outgoing(incident_id, subject_id, "letter", to, langs, html=html)


def _record(
    session: Session,
    row: NoticeDelivery | None,
    incident_id: int,
    subject_id: int,
    channel: str,
    langs: Sequence[str],
    status: str,
    clock: Clock,
    *,
    attempt: bool = False,
    tag: str | None = None,
) -> NoticeDelivery:
    """Create or update a log row and commit it (``tag``: the code's look-up tag)."""
    now = clock.now()
    if row is None:
        row = NoticeDelivery(
            incident_id=incident_id,
            subject_id=subject_id,
            channel=channel,
            status=status,
            language="+".join(langs),
            attempts=1 if attempt else 0,
            attempt_at=now,
            code_tag=tag,
        )
        session.add(row)
    else:
        row.status = status
        row.attempt_at = now
        if tag is not None:
            row.code_tag = tag
        if attempt:
            row.attempts += 1
    session.commit()
    return row


class _SentMarker:
    """Marks a notice ``sent`` with one autocommitted UPDATE on a connection of its own.

    This runs at the channel's point of no return, so the time between the commit and
    the hand-over is the only moment a hard crash can lose a notice: here it is the
    return from one DBAPI call, not an ORM commit's bookkeeping.
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        bind = sessions.kw["bind"]
        self._raw = bind.raw_connection()
        mark = "?" if bind.dialect.paramstyle == "qmark" else "%s"
        table = NoticeDelivery.__tablename__
        self._sql = f"UPDATE {table} SET status = 'sent' WHERE id = {mark}"
        self._cursor = self._raw.cursor()

    def __enter__(self) -> _SentMarker:
        return self

    def __exit__(self, *exc: object) -> None:
        self._cursor.close()
        self._raw.close()

    def sent(self, row_id: int) -> None:
        """Commit ``sent`` for one log row."""
        self._cursor.execute(self._sql, (row_id,))
        self._raw.commit()


def _mark(session: Session, row: NoticeDelivery, status: str, detail: str | None = None) -> None:
    session.execute(
        update(NoticeDelivery)
        .where(NoticeDelivery.id == row.id)
        .values(status=status, detail=detail[:300] if detail else None)
    )
    session.commit()


def context_for(settings: Settings, session: Session, *, incident_id: int) -> NoticeContext:
    """The shared part of an incident's notices, from the settings and the incident."""
    incident = incidents.get_incident(session, incident_id=incident_id)
    return NoticeContext(
        incident_id=incident.id,
        controller=settings.controller_name,
        phone=settings.dpo_phone,
        email=settings.dpo_email,
        check_url=settings.notice_check_url,
        aware_on=incident.aware_at.date(),
    )


@dataclass(frozen=True)
class NoticeCheck:
    """A genuine notice: which incident, on which channels it was sent."""

    incident_id: int
    channels: str


def check_notice(session: Session, secrets: InstanceSecrets, *, ref: str, code: str) -> NoticeCheck:
    """Find the notice a person holds from their ``ref`` and its code; Denied if none.

    Answers the same "does not match" whether the ref is unknown or the code wrong, so
    the check reveals nothing about who is in the registry.
    """
    from vigie.breach.codes import verify_code

    subject_id = session.scalar(select(Subject.id).where(Subject.ref == ref))
    rows = (
        session.execute(
            select(NoticeDelivery.incident_id, NoticeDelivery.channel).where(
                NoticeDelivery.subject_id == subject_id, NoticeDelivery.status == "sent"
            )
        ).all()
        if subject_id is not None
        else []
    )
    by_incident: dict[int, list[str]] = {}
    for incident_id, channel in rows:
        by_incident.setdefault(incident_id, []).append(channel)
    for incident_id, channels in sorted(by_incident.items()):
        try:
            verify_code(
                secrets, incident_id=incident_id, subject_id=int(subject_id or 0), code=code
            )
        except Denied:
            continue
        return NoticeCheck(incident_id=incident_id, channels=", ".join(sorted(channels)))
    raise Denied("this verification code does not match a notice sent by the controller")
