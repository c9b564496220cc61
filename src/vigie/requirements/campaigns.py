"""Campaigns: raise the baseline for every provider at once, tell each, follow them.

:func:`start_campaign` applies a requirements file exactly as ``requirements apply``
does (same checks, same events, nothing half-applied), records the campaign
(``campaign:start``: label, the file's SHA-256, the versions raised, the earliest
deadline) with each provider's standing just before (for the trend), and queues one
message per provider. :func:`send_notices` hands each queued message to the e-mail
channel, in French, and records ``campaign:notify`` at the channel's point of no return;
a failed delivery stays ``pending`` (temporary) or becomes ``failed`` (refused) and the
next run retries the pending ones. Providers acknowledge through the API (or the DPO
records it): ``campaign:acknowledge``. :func:`progress` follows each provider until the
deadline: notified, acknowledged, standing on the raised requirements.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from vigie.audit import trail
from vigie.audit.actions import Action
from vigie.breach.channels import Bounced, Channel, DeliveryFailed
from vigie.errors import InvalidInput, NotFound
from vigie.processors.models import Processor
from vigie.requirements.apply import ApplyResult, apply_parsed
from vigie.requirements.mail import campaign_message
from vigie.requirements.models import Campaign, CampaignNotice, RequirementVersion
from vigie.requirements.spec import Parsed
from vigie.requirements.standing import standings


def tally(session: Session, *, at: datetime) -> dict[str, dict[str, int]]:
    """Per provider, how many requirements in force it meets, and out of how many."""
    out: dict[str, Counter[str]] = {}
    for row in standings(session, at=at):
        counts = out.setdefault(row.processor, Counter())
        counts["total"] += 1
        counts["met"] += row.state == "met"
    return {name: {"met": c["met"], "total": c["total"]} for name, c in sorted(out.items())}


@dataclass(frozen=True)
class Started:
    """A campaign started (or, with ``dry_run``, what it would raise)."""

    campaign_id: int | None
    applied: ApplyResult
    providers: int


def start_campaign(
    session: Session, *, parsed: Parsed, actor: str, now: datetime, dry_run: bool = False
) -> Started:
    """Apply ``parsed`` and queue a message to every provider (see the module docstring)."""
    before = tally(session, at=now)
    applied = apply_parsed(session, parsed=parsed, actor=actor, now=now, dry_run=dry_run)
    if not applied.changes:
        raise InvalidInput(
            f"{parsed.source}: raises nothing (every version in it is already applied); a "
            "campaign needs a new requirement or a new version"
        )
    providers = list(session.scalars(select(Processor).order_by(Processor.name)))
    if dry_run:
        return Started(None, applied, len(providers))
    raised = [f"{c.requirement}@{c.version}" for c in applied.changes]
    versions = {(r.requirement, r.version): r for r in session.scalars(select(RequirementVersion))}
    deadline = min(versions[(c.requirement, c.version)].deadline for c in applied.changes)
    seq = trail.append(
        session,
        action=Action.CAMPAIGN_START,
        actor=actor,
        detail={
            "label": parsed.spec.baseline,
            "file_sha256": parsed.sha256,
            "requirements": raised,
            "deadline": deadline.isoformat(),
            "providers": len(providers),
        },
        at=now,
    )
    campaign = Campaign(
        label=parsed.spec.baseline,
        file_sha256=parsed.sha256,
        requirements=raised,
        deadline=deadline,
        started_at=now,
        started_by=actor,
        standing_before=before,
        audit_seq=seq,
    )
    session.add(campaign)
    session.flush()
    for p in providers:
        session.add(CampaignNotice(campaign_id=campaign.id, processor_id=p.id, status="pending"))
    session.flush()
    return Started(campaign.id, applied, len(providers))


def list_campaigns(session: Session) -> list[Campaign]:
    """Every campaign, newest first."""
    return list(session.scalars(select(Campaign).order_by(Campaign.id.desc())))


def _campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id}")
    return campaign


def campaign_versions(session: Session, campaign: Campaign) -> list[RequirementVersion]:
    """The requirement versions a campaign raised."""
    out = []
    for item in campaign.requirements:
        name, _, version = item.rpartition("@")
        row = session.scalar(
            select(RequirementVersion).where(
                RequirementVersion.requirement == name, RequirementVersion.version == int(version)
            )
        )
        if row is not None:
            out.append(row)
    return out


@dataclass(frozen=True)
class Sent:
    """What one run of :func:`send_notices` did."""

    sent: int
    failed: int
    pending: int


def send_notices(
    sessions: sessionmaker[Session], *, campaign_id: int, channel: Channel, controller: str,
    clock: Any,
) -> Sent:  # fmt: skip
    """Hand every pending message of the campaign to ``channel`` (see the module docstring)."""
    with sessions.begin() as session:
        campaign = _campaign(session, campaign_id)
        versions = campaign_versions(session, campaign)
        pending = [
            (n.id, p.id, p.legal_name, p.contact_email)
            for n, p in session.execute(
                select(CampaignNotice, Processor)
                .join(Processor, Processor.id == CampaignNotice.processor_id)
                .where(
                    CampaignNotice.campaign_id == campaign_id, CampaignNotice.status == "pending"
                )
                .order_by(Processor.name)
            )
        ]
        label = campaign.label
    sent = failed = 0
    try:
        for notice_id, processor_id, legal_name, to in pending:
            message = campaign_message(
                campaign_id=campaign_id, label=label, processor_id=processor_id,
                legal_name=legal_name, to=to, requirements=versions, controller=controller,
            )  # fmt: skip
            session = sessions()
            try:

                def commit(notice_id: int = notice_id, processor_id: int = processor_id,
                           session: Session = session) -> None:  # fmt: skip
                    now = clock.now()
                    notice = session.get(CampaignNotice, notice_id)
                    assert notice is not None
                    notice.status, notice.sent_at = "sent", now
                    trail.append(
                        session, action=Action.CAMPAIGN_NOTIFY, actor="system:requirements",
                        processor_id=processor_id, detail={"campaign": campaign_id}, at=now,
                    )  # fmt: skip
                    session.commit()

                channel.deliver(message, commit=commit)
                sent += 1
            except Bounced as exc:
                session.rollback()
                notice = session.get(CampaignNotice, notice_id)
                assert notice is not None
                notice.status, notice.error = "failed", str(exc)[:200]
                session.commit()
                failed += 1
            except DeliveryFailed as exc:
                session.rollback()
                notice = session.get(CampaignNotice, notice_id)
                assert notice is not None
                notice.error = str(exc)[:200]
                session.commit()
            finally:
                session.close()
    finally:
        channel.close()
    return Sent(sent=sent, failed=failed, pending=len(pending) - sent - failed)


def acknowledge(
    session: Session, *, campaign_id: int, processor: Processor, actor: str, now: datetime
) -> CampaignNotice:
    """Record that ``processor`` acknowledged the campaign (once; audited)."""
    _campaign(session, campaign_id)
    notice = session.scalar(
        select(CampaignNotice).where(
            CampaignNotice.campaign_id == campaign_id,
            CampaignNotice.processor_id == processor.id,
        )
    )
    if notice is None:
        raise NotFound(f"campaign {campaign_id} did not concern processor {processor.name!r}")
    if notice.acknowledged_at is None:
        notice.acknowledged_at, notice.acknowledged_by = now, actor
        trail.append(
            session, action=Action.CAMPAIGN_ACKNOWLEDGE, actor=actor, processor_id=processor.id,
            detail={"campaign": campaign_id}, at=now,
        )  # fmt: skip
        session.flush()
    return notice


@dataclass(frozen=True)
class Progress:
    """One provider's progress on a campaign."""

    processor: str
    notice: str  # pending | sent | failed
    sent_at: str | None
    acknowledged_at: str | None
    met: int  # of the campaign's requirements
    total: int
    unmet: tuple[str, ...]


def progress(session: Session, *, campaign_id: int, at: datetime) -> list[Progress]:
    """Each provider's progress on the campaign at ``at``."""
    campaign = _campaign(session, campaign_id)
    raised = {tuple(item.rsplit("@", 1)) for item in campaign.requirements}
    names = {name for name, _ in raised}
    rows: dict[str, list[Any]] = {}
    for s in standings(session, at=at):
        if s.requirement in names:
            rows.setdefault(s.processor, []).append(s)
    out = []
    for notice, p in session.execute(
        select(CampaignNotice, Processor)
        .join(Processor, Processor.id == CampaignNotice.processor_id)
        .where(CampaignNotice.campaign_id == campaign_id)
        .order_by(Processor.name)
    ):
        mine = rows.get(p.name, [])
        out.append(
            Progress(
                processor=p.name,
                notice=notice.status,
                sent_at=notice.sent_at.isoformat() if notice.sent_at else None,
                acknowledged_at=(
                    notice.acknowledged_at.isoformat() if notice.acknowledged_at else None
                ),
                met=sum(1 for s in mine if s.state == "met"),
                total=len(mine),
                unmet=tuple(f"{s.requirement} v{s.version}" for s in mine if s.state != "met"),
            )
        )
    return out
