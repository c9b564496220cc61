"""Purging what is past its retention period, per data kind, with counts in the audit trail.

Each kind has a period in the settings (justified in docs/retention.md):

- ``leak_files``: stored leak reports past ``purge_after`` (``leak_retention_days``), by
  :func:`vigie.leaks.vault.purge`, which audits ``leak:purge`` itself;
- ``notice_deliveries``: delivery records whose last attempt is older than
  ``retention_delivery_days``;
- ``alert_evidence``: the evidence of alerts attached to no incident, raised more than
  ``retention_alert_evidence_days`` ago, is emptied (the alert row, its summary and its
  ``alert:raise`` event stay);
- ``finished_jobs``: done, failed or cancelled jobs finished more than
  ``retention_jobs_days`` ago;
- ``self_check_messages`` and ``report_requests``: what the public service sent to a
  contact on file (the person's id, the contact's keyed tag), sent or asked more than
  ``retention_public_requests_days`` ago;
- ``unreferenced_evidence_files``: attestation evidence files no attestation refers to
  (left by a transaction that failed after writing its file), written more than a day ago.

- ``audit_events``: disclosure events older than ``retention_audit_days`` lose the people
  they name, in place, keeping their leaves so that every proof stays valid
  (:mod:`vigie.audit.pruning`, which appends ``audit:prune``); held while an incident is
  open. No audit event is ever deleted: they are the proof every other purge refers to.

A run records ``retention:purge`` with the counts only (never an id of a person).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, cast, delete, func, select, update
from sqlalchemy.orm import Session

from vigie.audit import trail
from vigie.audit.actions import Action
from vigie.audit.pruning import Pruned, prune
from vigie.breach.models import NoticeDelivery
from vigie.detection.models import Alert
from vigie.jobs.models import FINAL, Job
from vigie.leaks import vault
from vigie.leaks.models import StoredAnalysis
from vigie.public.models import PublicMessage, ReportRequest
from vigie.requirements.attestations import attestations_dir, unreferenced_documents
from vigie.settings import Settings
from vigie.store.base import utcnow

PURGED = "evidence_purged_at"  # what an alert's evidence becomes
KINDS = (
    "leak_files",
    "notice_deliveries",
    "alert_evidence",
    "finished_jobs",
    "self_check_messages",
    "report_requests",
)
FILE_KINDS = ("unreferenced_evidence_files",)
AUDIT_KINDS = ("audit_events",)
DEBRIS_GRACE = timedelta(days=1)  # far longer than any transaction that writes a file


@dataclass(frozen=True)
class Purge:
    """What a retention run purged (or, dry, would purge), per data kind."""

    counts: dict[str, int]
    dry_run: bool
    audit: Pruned | None = None
    """The audit trail's own prune (its count is ``counts["audit_events"]``)."""

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _due(settings: Settings, now: datetime) -> dict[str, Any]:
    deliveries = now - timedelta(days=settings.retention_delivery_days)
    evidence = now - timedelta(days=settings.retention_alert_evidence_days)
    jobs = now - timedelta(days=settings.retention_jobs_days)
    public = now - timedelta(days=settings.retention_public_requests_days)
    return {
        "leak_files": StoredAnalysis.purge_after <= now,
        "notice_deliveries": NoticeDelivery.attempt_at < deliveries,
        "alert_evidence": (Alert.raised_at < evidence)
        & Alert.incident_id.is_(None)
        & cast(Alert.evidence, String).not_like(f'%"{PURGED}"%'),
        "finished_jobs": Job.state.in_([s.value for s in FINAL]) & (Job.finished_at < jobs),
        "self_check_messages": PublicMessage.sent_at < public,
        "report_requests": ReportRequest.requested_at < public,
    }


_MODELS: dict[str, Any] = {
    "leak_files": StoredAnalysis,
    "notice_deliveries": NoticeDelivery,
    "alert_evidence": Alert,
    "finished_jobs": Job,
    "self_check_messages": PublicMessage,
    "report_requests": ReportRequest,
}


def run_retention(
    session: Session,
    *,
    settings: Settings,
    actor: str,
    dry_run: bool = False,
    now: datetime | None = None,
) -> Purge:
    """Purge (or with ``dry_run`` only count) what is due; audit ``retention:purge``."""
    now = now or utcnow()
    due = _due(settings, now)
    counts = {
        kind: session.scalar(select(func.count()).select_from(_MODELS[kind]).where(due[kind])) or 0
        for kind in KINDS
    }
    debris = unreferenced_documents(
        session, attestations_dir(settings.data_dir), before=now - DEBRIS_GRACE
    )
    counts["unreferenced_evidence_files"] = len(debris)
    audit = prune(
        session, days=settings.retention_audit_days, actor=actor, now=now, dry_run=dry_run
    )
    counts["audit_events"] = audit.events
    if dry_run:
        return Purge(counts=counts, dry_run=True, audit=audit)
    vault.purge(session, actor=actor, now=now)
    session.execute(delete(NoticeDelivery).where(due["notice_deliveries"]))
    session.execute(
        update(Alert).where(due["alert_evidence"]).values(evidence={PURGED: now.isoformat()})
    )
    session.execute(delete(Job).where(due["finished_jobs"]))
    session.execute(delete(PublicMessage).where(due["self_check_messages"]))
    session.execute(delete(ReportRequest).where(due["report_requests"]))
    for path in debris:
        path.unlink(missing_ok=True)
    trail.append(
        session,
        action=Action.RETENTION_PURGE,
        actor=actor,
        detail={"counts": counts, "audit_held": audit.held},
    )
    return Purge(counts=counts, dry_run=False, audit=audit)
