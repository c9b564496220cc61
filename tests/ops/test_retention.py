"""`vigie retention run`: what is past its period goes, the rest and the audit trail stay."""

from __future__ import annotations

import json
import os
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.cli.conftest import Invoke
from tests.gateway.conftest import subject_values
from vigie.audit import trail
from vigie.audit.actions import Action
from vigie.audit.models import AuditEvent
from vigie.detection.models import Alert
from vigie.jobs.models import Job
from vigie.public.models import PublicMessage, ReportRequest
from vigie.registry.models import Subject
from vigie.requirements.attestations import attestations_dir
from vigie.settings import Settings
from vigie.store.base import utcnow


def _seed(sessions: sessionmaker[Session]) -> None:
    now = utcnow()
    old, recent = now - timedelta(days=400), now - timedelta(days=10)
    with sessions.begin() as s:
        for raised, incident in ((old, None), (old, 3), (recent, None)):
            s.add(Alert(raised_at=raised, detector="volume", severity="low", summary="s",
                        evidence={"keys": [1]}, containment="none",
                        incident_id=incident))  # fmt: skip
        for state, finished in (("done", old), ("failed", old), ("done", recent), ("queued", None)):
            s.add(Job(kind="audit.verify", params={}, state=state, actor="operator:t",
                      created_at=old, finished_at=finished))  # fmt: skip
        s.add(Subject(id=1, valid_from=old, **subject_values(1)))
        s.flush()
        for at in (old, recent):
            s.add(PublicMessage(subject_id=1, channel="email", contact_tag="t", sent_at=at))
            s.add(ReportRequest(subject_id=1, channel="email", contact_tag="t", lang="fr",
                                token_hash=f"{at.timestamp():064.0f}", requested_at=at,
                                expires_at=at + timedelta(minutes=30)))  # fmt: skip


def test_dry_run_counts_and_run_purges_only_what_is_due(
    cli: Invoke, sessions: sessionmaker[Session]
) -> None:
    _seed(sessions)
    with sessions() as s:
        events_before = s.scalar(select(func.count()).select_from(AuditEvent))
    dry = cli(["retention", "run", "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    counts = json.loads(dry.stdout)["counts"]
    assert counts == {"leak_files": 0, "notice_deliveries": 0, "alert_evidence": 1,
                      "finished_jobs": 2, "self_check_messages": 1, "report_requests": 1,
                      "unreferenced_evidence_files": 0, "audit_events": 0}  # fmt: skip
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 4

    done = cli(["retention", "run", "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["counts"] == counts
    with sessions() as s:
        assert sorted(j.state for j in s.scalars(select(Job))) == ["done", "queued"]
        for model in (PublicMessage, ReportRequest):  # the recent one stays
            assert s.scalar(select(func.count()).select_from(model)) == 1
        evidence = [a.evidence for a in s.scalars(select(Alert).order_by(Alert.id))]
        assert evidence[1:] == [{"keys": [1]}, {"keys": [1]}]
        assert list(evidence[0]) == ["evidence_purged_at"]
        events = s.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        assert len(events) > (events_before or 0)
        purge = [e for e in events if e.action == "retention:purge"]
        assert len(purge) == 1 and json.loads(purge[0].detail)["counts"] == counts

    again = cli(["retention", "run", "--dry-run", "--json"])
    assert sum(json.loads(again.stdout)["counts"].values()) == 0


def test_evidence_files_no_attestation_refers_to_go_after_a_day(
    cli: Invoke, settings: Settings
) -> None:
    store = attestations_dir(settings.data_dir)
    store.mkdir(parents=True)
    debris, fresh = store / "debris.pdf", store / "fresh.pdf"
    for path in (debris, fresh):
        path.write_bytes(b"%PDF-1.4")
    two_days_ago = (utcnow() - timedelta(days=2)).timestamp()
    os.utime(debris, (two_days_ago, two_days_ago))
    done = cli(["retention", "run", "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["counts"]["unreferenced_evidence_files"] == 1
    assert not debris.exists() and fresh.exists()  # a fresh file may belong to an open transaction


def test_old_disclosures_are_pruned_and_the_trail_still_verifies(
    cli: Invoke, sessions: sessionmaker[Session]
) -> None:
    """Past VIGIE_RETENTION_AUDIT_DAYS a disclosure loses its people; `vigie audit verify`
    still passes, and the run's `retention:purge` counts them."""
    old = utcnow() - timedelta(days=1_900)
    with sessions.begin() as s:
        for i in range(3):
            trail.append(s, action=Action.SUBJECT_READ, actor="processor:p/key:1",
                         processor_id=1, key_id=1, subject_ids=[10 + i], fields=["name"],
                         at=old)  # fmt: skip
    assert cli(["audit", "checkpoint"]).exit_code == 0
    done = cli(["retention", "run", "--json"])
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    assert result["counts"]["audit_events"] == 3 and result["audit"]["through"] == 3
    verified = cli(["audit", "verify", "--json"])
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.stdout)["pruned"] == 3
    with sessions() as s:
        purge = s.scalars(select(AuditEvent).where(AuditEvent.action == "retention:purge")).one()
        assert json.loads(purge.detail or "{}")["counts"]["audit_events"] == 3
