"""The audit trail's retention: old disclosures lose their people, every proof stays valid."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from vigie.audit.actions import Action
from vigie.audit.checkpoints import take
from vigie.audit.export import export_trail
from vigie.audit.models import AuditDisclosure, AuditEvent, AuditProcessorField, AuditReceipt
from vigie.audit.proofs import check_consistency, check_inclusion, consistency, inclusion
from vigie.audit.pruning import PRUNED, Pruned, prune
from vigie.audit.trail import append
from vigie.audit.verify import verify_trail
from vigie.breach.models import Incident
from vigie.errors import IntegrityError, NotFound
from vigie.secrets import InstanceSecrets
from vigie.store.base import utcnow

NOW = utcnow()
OLD = NOW - timedelta(days=2_000)
RECENT = NOW - timedelta(days=10)


def _disclose(s: Session, *, at: datetime, people: list[int], fields: list[str]) -> int:
    return append(
        s,
        action=Action.SUBJECT_LIST,
        actor="processor:cir-alpha/key:3",
        processor_id=1,
        key_id=3,
        purpose="cir-language-training",
        subject_ids=people,
        fields=fields,
        detail={"page": 0, "count": len(people)},
        at=at,
    )


@pytest.fixture
def aged(sessions: sessionmaker[Session], secrets: InstanceSecrets) -> dict[str, int]:
    """Old disclosures (one field only they carry), an old operator action, a checkpoint,
    then recent disclosures of some of the same people, and a second checkpoint."""
    seqs: dict[str, int] = {}
    with sessions.begin() as s:
        seqs["old_1"] = _disclose(s, at=OLD, people=[101, 102], fields=["email", "name"])
        seqs["old_2"] = _disclose(s, at=OLD, people=[102, 103], fields=["email", "name"])
        seqs["old_phone"] = _disclose(s, at=OLD, people=[104], fields=["phone"])
        seqs["old_op"] = append(s, action=Action.KEY_ISSUE, actor="operator:dpo", key_id=3, at=OLD)
        cp = take(s, signing_key=secrets.signing_key, actor="operator:dpo")
        assert cp is not None
        seqs["cp_old"] = cp.id
    with sessions.begin() as s:
        seqs["recent"] = _disclose(s, at=RECENT, people=[102, 105], fields=["email", "name"])
        cp = take(s, signing_key=secrets.signing_key, actor="operator:dpo")
        assert cp is not None
        seqs["cp_recent"] = cp.id
    return seqs


def _prune(sessions: sessionmaker[Session], *, dry_run: bool = False) -> Pruned:
    with sessions.begin() as s:
        return prune(s, days=1_825, actor="system:retention", now=NOW, dry_run=dry_run)


def test_prune_then_verify_and_the_index_follows(
    engine: Engine, sessions: sessionmaker[Session], secrets: InstanceSecrets, aged: dict[str, int]
) -> None:
    before = verify_trail(engine, public_key=secrets.audit_keys)
    dry = _prune(sessions, dry_run=True)
    assert dry.events == 3 and dry.through == aged["old_op"]
    done = _prune(sessions)
    assert done.events == 3 and done.checkpoint == aged["cp_recent"]
    after = verify_trail(engine, public_key=secrets.audit_keys)
    assert after.pruned == 3 and after.events == before.events + 1
    with sessions() as s:
        events = {e.seq: e for e in s.scalars(select(AuditEvent))}
        for name in ("old_1", "old_2", "old_phone"):
            e = events[aged[name]]
            assert (e.outcome, e.subjects, e.detail) == (PRUNED, b"", None)
            assert e.fields and e.processor_id == 1  # what is not personal stays
        assert events[aged["old_op"]].outcome == "ok"
        assert events[aged["recent"]].subjects != b""
        (mark,) = [e for e in events.values() if e.action == "audit:prune"]
        detail = json.loads(mark.detail or "{}")
        cp_root = s.execute(
            text("SELECT root FROM audit_checkpoints WHERE id = :i"), {"i": aged["cp_recent"]}
        ).scalar_one()
        assert detail["through"] == aged["old_op"] and detail["root"] == bytes(cp_root).hex()
        people = sorted(s.scalars(select(AuditDisclosure.subject_id)))
        assert people == [102, 105]
        receipts = {r.subject_id: r for r in s.scalars(select(AuditReceipt))}
        assert sorted(receipts) == [102, 105]
        assert receipts[102].first_seq == receipts[102].last_seq == aged["recent"]
        fields = set(s.scalars(select(AuditProcessorField.field)))
        assert fields == {"email", "name"}  # "phone" went with the only event carrying it
    assert _prune(sessions).events == 0  # idempotent


def test_inclusion_proofs_of_kept_events_stay_valid(
    sessions: sessionmaker[Session], secrets: InstanceSecrets, aged: dict[str, int]
) -> None:
    with sessions() as s:
        proofs = [inclusion(s, seq=aged[n], checkpoint_id=aged["cp_old"]) for n in ("old_op",)]
        proofs.append(inclusion(s, seq=aged["recent"], checkpoint_id=aged["cp_recent"]))
    _prune(sessions)
    with sessions.begin() as s:
        append(s, action=Action.KEY_ISSUE, actor="operator:dpo", key_id=4)
        cp = take(s, signing_key=secrets.signing_key, actor="operator:dpo")
        assert cp is not None
    with sessions() as s:
        for p in proofs:  # proofs handed out before the prune still check
            check_inclusion(p, public_key=secrets.verify_key)
            again = inclusion(s, seq=p.seq, checkpoint_id=p.checkpoint.id)
            assert again.path == p.path and again.leaf == p.leaf
        for name in ("old_op", "recent"):  # and new ones, against a checkpoint after it
            check_inclusion(inclusion(s, seq=aged[name]), public_key=secrets.verify_key)
        old_to_new = consistency(s, old_id=aged["cp_old"], new_id=cp.id)
        with pytest.raises(NotFound, match="pruned past the audit retention"):
            inclusion(s, seq=aged["old_1"])
    check_consistency(old_to_new, public_key=secrets.verify_key)


def test_nothing_after_the_last_checkpoint_nor_younger_is_pruned(
    engine: Engine, sessions: sessionmaker[Session], secrets: InstanceSecrets
) -> None:
    with sessions.begin() as s:
        _disclose(s, at=OLD, people=[1], fields=["name"])
        take(s, signing_key=secrets.signing_key, actor="operator:dpo")
        unsigned = _disclose(s, at=OLD, people=[2], fields=["name"])
    assert _prune(sessions).events == 1
    with sessions() as s:
        assert s.get(AuditEvent, unsigned).outcome == "ok"  # type: ignore[union-attr]
    verify_trail(engine, public_key=secrets.audit_keys)


def test_an_open_incident_holds_the_trail(
    sessions: sessionmaker[Session], aged: dict[str, int]
) -> None:
    with sessions.begin() as s:
        s.add(Incident(title="leak", source="manual", aware_at=NOW, opened_at=NOW))
    held = _prune(sessions)
    assert held.events == 0 and held.held == "1 open incident(s)"
    with sessions() as s:
        assert s.scalar(select(func.count()).where(AuditEvent.outcome == PRUNED)) == 0
    with sessions.begin() as s:
        s.execute(update(Incident).values(status="closed", closed_at=NOW))
    assert _prune(sessions).events == 3


@pytest.mark.parametrize("victim", ["recent", "old_op"])
def test_pruning_outside_retention_fails_verification(
    engine: Engine,
    sessions: sessionmaker[Session],
    secrets: InstanceSecrets,
    aged: dict[str, int],
    victim: str,
) -> None:
    """Marking a recent disclosure, or an event that is no disclosure, as pruned (to hide
    whom it names) keeps its leaf, so the roots still match: the horizon catches it."""
    _prune(sessions)
    with sessions.begin() as s:
        s.execute(
            update(AuditEvent)
            .where(AuditEvent.seq == aged[victim])
            .values(outcome=PRUNED, subjects=b"", detail=None)
        )
    with pytest.raises(IntegrityError, match=f"event {aged[victim]}"):
        verify_trail(engine, public_key=secrets.audit_keys)


def test_a_pruned_prefix_without_its_announcement_fails(
    engine: Engine, sessions: sessionmaker[Session], secrets: InstanceSecrets, aged: dict[str, int]
) -> None:
    with sessions.begin() as s:  # pruned by hand, no audit:prune in the chain
        s.execute(
            update(AuditEvent)
            .where(AuditEvent.seq == aged["old_1"])
            .values(outcome=PRUNED, subjects=b"", detail=None)
        )
    with pytest.raises(IntegrityError, match="no audit:prune"):
        verify_trail(engine, public_key=secrets.audit_keys)


def test_the_offline_verifier_passes_an_export_after_pruning(
    engine: Engine,
    sessions: sessionmaker[Session],
    secrets: InstanceSecrets,
    aged: dict[str, int],
    tmp_path: Path,
) -> None:
    _prune(sessions)
    out = tmp_path / "export"
    export_trail(engine, sessions, out=out, secrets=secrets, actor="operator:dpo")
    pem = tmp_path / "key.pem"
    pem.write_text((out / "audit-signing.pub.pem").read_text())
    ok = subprocess.run(
        [sys.executable, "-I", str(out / "verify_trail.py"), str(out), "--key", str(pem)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "3 disclosures pruned past retention" in ok.stdout

    lines = (out / "events.jsonl").read_text().splitlines()
    i = aged["recent"] - 1
    event = json.loads(lines[i])
    event.update(outcome=PRUNED, subjects=[], detail=None)  # hide a recent disclosure
    lines[i] = json.dumps(event, separators=(",", ":"))
    (out / "events.jsonl").write_text("\n".join(lines) + "\n")
    bad = subprocess.run(
        [sys.executable, "-I", str(out / "verify_trail.py"), str(out), "--key", str(pem)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert bad.returncode == 1 and f"event {aged['recent']}: pruned" in bad.stdout


def test_what_is_left_of_a_pruned_event_is_still_bound(
    engine: Engine, sessions: sessionmaker[Session], secrets: InstanceSecrets, aged: dict[str, int]
) -> None:
    """A pruned event's own hash no longer binds its processor or fields: its audit:prune's
    digest does, so changing them fails verification."""
    _prune(sessions)
    verify_trail(engine, public_key=secrets.audit_keys)
    with sessions.begin() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == aged["old_2"]).values(fields="name"))
    with pytest.raises(IntegrityError, match="no longer as it recorded them"):
        verify_trail(engine, public_key=secrets.audit_keys)


def test_the_offline_verifier_binds_what_is_left_of_pruned_events(
    engine: Engine,
    sessions: sessionmaker[Session],
    secrets: InstanceSecrets,
    aged: dict[str, int],
    tmp_path: Path,
) -> None:
    _prune(sessions)
    out = tmp_path / "export"
    export_trail(engine, sessions, out=out, secrets=secrets, actor="operator:dpo")
    pem = tmp_path / "key.pem"
    pem.write_text((out / "audit-signing.pub.pem").read_text())
    lines = (out / "events.jsonl").read_text().splitlines()
    i = aged["old_1"] - 1
    event = json.loads(lines[i])
    assert event["outcome"] == PRUNED and event["subjects"] == []
    event["processor_id"] = 2  # blame another processor for an old disclosure
    lines[i] = json.dumps(event, separators=(",", ":"))
    (out / "events.jsonl").write_text("\n".join(lines) + "\n")
    bad = subprocess.run(
        [sys.executable, "-I", str(out / "verify_trail.py"), str(out), "--key", str(pem)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert bad.returncode == 1 and "no longer as it recorded them" in bad.stdout, bad.stdout


def test_two_runs_at_once_prune_once(
    engine: Engine, sessions: sessionmaker[Session], secrets: InstanceSecrets, aged: dict[str, int]
) -> None:
    """A second run waits for the first (the chain head's lock), then finds nothing due;
    the audit:prune ranges stay one after the other and the trail verifies."""
    results: list[Pruned] = []
    first = sessions()
    first.begin()
    results.append(prune(first, days=1_825, actor="system:a", now=NOW))
    second = threading.Thread(target=lambda: results.append(_prune(sessions)))
    second.start()
    time.sleep(0.5)
    assert second.is_alive()  # waiting for the head
    first.commit()
    first.close()
    second.join(30)
    assert [r.events for r in results] == [3, 0]
    assert verify_trail(engine, public_key=secrets.audit_keys).pruned == 3
