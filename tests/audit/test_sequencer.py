"""Durable before sequenced: staged events reach the chain once, through one sequencer."""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner, Result

from tests.audit import audit_workers  # importable by spawned children
from vigie.audit.actions import Action
from vigie.audit.anchors import Bound
from vigie.audit.checkpoints import Checkpointer
from vigie.audit.election import Election, Fenced, sequencer_engine
from vigie.audit.evidence import require_verified
from vigie.audit.index import received_by
from vigie.audit.models import AuditEvent, AuditPending
from vigie.audit.sequencer import SequencerService, integrate, integrate_all, pending
from vigie.audit.trail import NewEvent, append, stage
from vigie.audit.verify import verify_trail
from vigie.cli.app import app
from vigie.cli.context import Instance
from vigie.errors import IntegrityError
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings
from vigie.store.engine import make_engine

SPAWN = multiprocessing.get_context("spawn")


def _read(processor_id: int, subject_id: int, *, at: datetime | None = None) -> NewEvent:
    return NewEvent(
        action=Action.SUBJECT_READ,
        actor=f"processor:p{processor_id}/key:1",
        processor_id=processor_id,
        key_id=1,
        subject_ids=[subject_id],
        fields=["email", "name"],
        at=at,
    )


def _count(session: Session, table: type[AuditEvent] | type[AuditPending]) -> int:
    return session.scalar(select(func.count()).select_from(table)) or 0


def _until(condition: Callable[[], object], what: str, *, within: float = 120) -> None:
    """Wait until ``condition()`` holds: a loaded machine is slow, not wrong, so the
    deadline is generous and nothing is judged from how long it took."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {within} s"
        time.sleep(0.1)


def _events(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        return _count(s, AuditEvent)


def test_staged_events_wait_then_join_the_chain_once(
    engine: Engine, sessions: sessionmaker[Session], secrets: InstanceSecrets
) -> None:
    with sessions.begin() as s:
        stage(s, [_read(1, 10), _read(2, 20)])
    with sessions.begin() as s:
        append(s, action=Action.OPERATOR_CREATE, actor="operator:cli", detail={"login": "a"})
        stage(s, [_read(1, 11)])
    with sessions() as s:
        assert _count(s, AuditEvent) == 1  # only the sequenced append is on the chain
        assert pending(s).events == 3
        assert received_by(s, processor_id=1) == set()  # the index follows the chain
    assert verify_trail(engine, public_key=secrets.verify_key).pending.events == 3

    with sessions.begin() as s:
        assert integrate(s, limit=2) == 2
    assert integrate_all(engine) == 1
    assert integrate_all(engine) == 0
    with sessions() as s:
        seqs = list(s.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)))
        assert seqs == [1, 2, 3, 4]
        assert _count(s, AuditPending) == 0
        assert received_by(s, processor_id=1) == {10, 11}
        assert received_by(s, processor_id=2) == {20}
    report = verify_trail(engine, public_key=secrets.verify_key)
    assert report.events == 4 and report.pending.events == 0 and report.index_rows > 0


def test_a_rolled_back_stage_leaves_nothing(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(RuntimeError), sessions.begin() as s:
        stage(s, [_read(1, 10)])
        raise RuntimeError("the request failed after auditing")
    with sessions() as s:
        assert pending(s).events == 0


def test_the_evidence_gate_integrates_a_pending_tail_first(
    engine: Engine, sessions: sessionmaker[Session], secrets: InstanceSecrets
) -> None:
    with sessions.begin() as s:
        stage(s, [_read(1, 10)])
    integrate_all(engine)
    Checkpointer(sessions=sessions, signing_key=secrets.signing_key).maybe_checkpoint()
    with sessions.begin() as s:  # committed after the checkpoint: integrated, not anchored
        stage(s, [_read(1, 11)])
    bound = Bound(max_events=10, max_seconds=3600)
    require_verified(engine, public_key=secrets.verify_key, bound=bound, purpose="attribution")
    with sessions() as s:
        assert pending(s).events == 0
        assert received_by(s, processor_id=1) == {10, 11}
    with pytest.raises(IntegrityError, match="UNANCHORED"):
        require_verified(
            engine,
            public_key=secrets.verify_key,
            bound=Bound(max_events=0, max_seconds=3600),
            purpose="attribution",
        )


def test_verify_fails_when_the_sequencer_lags(
    settings: Settings, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    old = datetime.now(UTC) - timedelta(seconds=settings.audit_max_pending_seconds + 30)
    with sessions.begin() as s:
        stage(s, [_read(1, 10, at=old)])
    runner = CliRunner()

    def verify(*args: str) -> Result:
        obj = Instance(settings=settings, _engine=engine)
        return runner.invoke(app, ["audit", "verify", *args], obj=obj)

    lagging = verify()
    assert lagging.exit_code == 1, lagging.output
    assert "SEQUENCER LAGGING" in lagging.output
    as_json = verify("--json")
    assert as_json.exit_code == 1 and '"within_bound": false' in as_json.output
    with sessions.begin() as s:  # the sequencer catches up: verify passes again
        integrate(s)
    ok = verify()
    assert ok.exit_code == 0, ok.output
    assert "pending: 0 committed events" in ok.output


def test_one_sequencer_is_elected_per_database(settings: Settings, engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        assert Election(engine).hold() and Election(engine).hold()  # one writer anyway
        return
    other = make_engine(settings.resolved_database_url)
    first, second = Election(engine), Election(other)
    try:
        assert first.hold()
        assert not second.hold()
        assert first.hold()  # still held
        first.release()
        assert second.hold()
        assert not first.hold()
    finally:
        first.release()
        second.release()
        other.dispose()


def test_a_deposed_sequencer_is_fenced_off(
    settings: Settings, engine: Engine, sessions: sessionmaker[Session], secrets: InstanceSecrets
) -> None:
    if engine.dialect.name != "postgresql":
        assert Election(engine).epoch is None  # one writer: the fence is a no-op
        with sessions.begin() as s:
            stage(s, [_read(1, 10)])
            assert integrate(s, election=Election(engine)) == 1
        return
    other = make_engine(settings.resolved_database_url)
    # A lease long enough that a loaded machine's pauses do not end it before the seat is
    # taken and renewed below; then the old one stops renewing ("paused") until it lapses.
    old, new = Election(engine, lease_seconds=6), Election(other, lease_seconds=30)
    try:
        assert old.hold() and old.epoch is not None
        with sessions.begin() as s:
            stage(s, [_read(1, 10), _read(1, 11)])
        with sessions.begin() as s:
            assert integrate(s, limit=1, election=old) == 1  # while it holds the seat
        assert old.hold()  # renewed: 6 s from now
        assert not new.hold()  # not expired yet
        _until(new.hold, "the new one takes the lapsed seat")  # the old one is paused
        assert new.epoch == old.epoch + 1
        with pytest.raises(Fenced), sessions.begin() as s:
            integrate(s, election=old)  # it resumes: its write fails on the fence
        assert old.epoch is None and not old.hold()  # it stands by
        signer = Checkpointer(sessions=sessions, signing_key=secrets.signing_key)
        with pytest.raises(Fenced):
            dataclasses.replace(signer, fence=Election(engine).fence).maybe_checkpoint()
        with sessions() as s:
            assert pending(s).events == 1 and _count(s, AuditEvent) == 1
        with sessions.begin() as s:
            assert integrate(s, election=new) == 1
        assert dataclasses.replace(signer, fence=new.fence).maybe_checkpoint() is not None
    finally:
        new.release()
        other.dispose()
    report = verify_trail(engine, public_key=secrets.verify_key)
    assert report.events == 3 and report.pending.events == 0


def test_a_sequencer_paused_inside_its_transaction_is_ended_and_replaced(
    engine: Engine,
    sessions: sessionmaker[Session],
    secrets: InstanceSecrets,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("the lease is shared through PostgreSQL")
    # 5 s: long enough for the fence and the integration below on a loaded machine; the
    # backstop (10 leases idle in a transaction) then waits 50 s, the standby ends it first.
    stuck_engine = sequencer_engine(engine, holder="paused.example:1", lease_seconds=5)
    standby_engine = sequencer_engine(engine, holder="standby.example:2", lease_seconds=30)
    stuck = Election(stuck_engine, lease_seconds=5, holder="paused.example:1")
    standby = Election(standby_engine, lease_seconds=30, holder="standby.example:2")
    with sessions.begin() as s:
        stage(s, [_read(1, n) for n in range(5)])
    try:
        assert stuck.hold()
        paused = Session(stuck_engine)
        paused.begin()
        assert integrate(paused, election=stuck) == 5  # fenced, chained, not yet committed
        # The process stops here, holding the lease row and the chain head; the standby
        # asks until the lease has lapsed and it takes over.
        with caplog.at_level(logging.WARNING, logger="vigie.audit.election"):
            _until(standby.hold, "the standby takes over from a paused holder")
        # ended by the standby, not by the backstop (10 leases idle in the transaction):
        # said by the standby itself, not judged from a duration (a loaded machine's)
        assert "ended 1 session(s) of an expired holder" in caplog.text
        with pytest.raises(SQLAlchemyError):  # it resumes: its session was ended
            paused.commit()
        paused.close()
        with sessions() as s:
            assert pending(s).events == 5 and _count(s, AuditEvent) == 0  # rolled back
        assert integrate_all(engine, election=standby) == 5
    finally:
        standby.release()
        stuck_engine.dispose()
        standby_engine.dispose()
    report = verify_trail(engine, public_key=secrets.verify_key)
    with sessions() as s:
        assert received_by(s, processor_id=1) == set(range(5))
    assert report.events == 5 and report.pending.events == 0


def test_the_service_integrates_and_signs_then_stops_clean(
    engine: Engine, sessions: sessionmaker[Session], secrets: InstanceSecrets
) -> None:
    checkpointer = Checkpointer(sessions=sessions, signing_key=secrets.signing_key)
    service = SequencerService(engine, checkpointer, poll=0.01)
    batches = REGISTRY.get_sample_value("vigie_audit_integration_delay_seconds_count") or 0
    takeovers = REGISTRY.get_sample_value("vigie_audit_sequencer_takeovers_total") or 0
    service.start()
    try:
        assert service.elected.wait(10)
        with sessions.begin() as s:
            stage(s, [_read(1, n) for n in range(30)])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with sessions() as s:
                if pending(s).events == 0:
                    break
            time.sleep(0.01)
        with sessions.begin() as s:
            stage(s, [_read(2, 5)])
        # the lag and the seat are exported
        assert REGISTRY.get_sample_value("vigie_audit_integration_delay_seconds_count") > batches
        assert REGISTRY.get_sample_value("vigie_audit_sequencer_takeovers_total") == takeovers + 1
        assert REGISTRY.get_sample_value("vigie_audit_sequencer_active") == 1
    finally:
        service.stop()  # integrates the last one and anchors everything
    report = verify_trail(engine, public_key=secrets.verify_key)
    assert report.pending.events == 0
    assert report.events == 31 + report.checkpoints
    assert report.tail.events == 0  # the last checkpoint covers everything


def test_a_killed_sequencer_is_replaced_and_nothing_is_lost_or_doubled(
    settings: Settings, engine: Engine, sessions: sessionmaker[Session], secrets: InstanceSecrets
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("the election is between processes sharing PostgreSQL")
    url, keys = settings.resolved_database_url, str(settings.resolved_secrets_dir)
    stop, count = SPAWN.Event(), SPAWN.Value("q", 0)
    stagers = [
        SPAWN.Process(target=audit_workers.stager, args=(url, w, stop, count)) for w in (1, 2)
    ]
    started, elected = [SPAWN.Event(), SPAWN.Event()], [SPAWN.Event(), SPAWN.Event()]
    sequencers = [
        SPAWN.Process(
            target=audit_workers.sequencer,
            args=(url, keys, started[i], elected[i]),
            kwargs={"lease_seconds": 2.0},
        )
        for i in (0, 1)
    ]
    for p in stagers:
        p.start()
    sequencers[0].start()
    try:
        assert elected[0].wait(60)
        sequencers[1].start()
        assert started[1].wait(60)  # the standby is up and asking
        _until(lambda: _events(sessions) > 0, "the active one integrates")
        assert not elected[1].is_set()
        before = _events(sessions)
        assert sequencers[0].pid is not None
        os.kill(sequencers[0].pid, signal.SIGKILL)
        killed = time.monotonic()
        assert elected[1].wait(120), "the standby did not take over"
        takeover = time.monotonic() - killed
        _until(lambda: _events(sessions) > before, "the new one integrates under load")
    finally:
        stop.set()
        for p in stagers:
            p.join(30)
        for p in sequencers:
            if p.is_alive():
                assert p.pid is not None
                os.kill(p.pid, signal.SIGKILL)
            p.join(30)
    print(f"takeover after SIGKILL: {takeover:.2f} s (lease 2 s)")  # said, not asserted
    integrate_all(engine)
    report = verify_trail(engine, public_key=secrets.verify_key)
    with sessions() as s:
        staged = s.scalar(select(func.count()).where(AuditEvent.actor.like("processor:s%")))
        received = received_by(s, processor_id=1) | received_by(s, processor_id=2)
    assert staged == count.value > 0  # each committed stage once on the chain
    assert len(received) == count.value  # each a different person: none doubled
    assert report.pending.events == 0 and report.checkpoints >= 1


def test_a_paused_sequencer_is_replaced_and_fenced_off_when_it_resumes(
    settings: Settings, engine: Engine, sessions: sessionmaker[Session], secrets: InstanceSecrets
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("the election is between processes sharing PostgreSQL")
    url, keys = settings.resolved_database_url, str(settings.resolved_secrets_dir)
    lease = 2.0
    stop, count = SPAWN.Event(), SPAWN.Value("q", 0)
    stagers = [
        SPAWN.Process(target=audit_workers.stager, args=(url, w, stop, count)) for w in (1, 2)
    ]
    started, elected = [SPAWN.Event(), SPAWN.Event()], [SPAWN.Event(), SPAWN.Event()]
    deposed = [SPAWN.Event(), SPAWN.Event()]
    sequencers = [
        SPAWN.Process(
            target=audit_workers.sequencer,
            args=(url, keys, started[i], elected[i], deposed[i]),
            kwargs={"lease_seconds": lease},
        )
        for i in (0, 1)
    ]
    for p in stagers:
        p.start()
    sequencers[0].start()
    try:
        assert elected[0].wait(60)
        sequencers[1].start()
        assert started[1].wait(60)
        _until(lambda: _events(sessions) > 0, "the active one integrates")
        assert not elected[1].is_set()
        assert sequencers[0].pid is not None
        os.kill(sequencers[0].pid, signal.SIGSTOP)  # a GC pause, a frozen VM, a debugger
        paused = time.monotonic()
        assert elected[1].wait(120), "the standby did not take over"
        takeover = time.monotonic() - paused
        before = _events(sessions)
        _until(lambda: _events(sessions) > before, "the new one integrates under load")
        during = _events(sessions)
        os.kill(sequencers[0].pid, signal.SIGCONT)  # the old one resumes, still "elected"
        assert deposed[0].wait(120), "the resumed sequencer did not stand down"
        # Both run: only the new one integrates, and it keeps up.
        _until(lambda: _events(sessions) > during, "the new one integrates beside the old")

        def caught_up() -> bool:
            with sessions() as s:
                return pending(s).age_seconds(time.time_ns() // 1000) < 5

        _until(caught_up, "the pending events integrated within 5 s of their staging")
    finally:
        stop.set()
        for p in stagers:
            p.join(30)
        for p in sequencers:
            if p.is_alive():
                assert p.pid is not None
                os.kill(p.pid, signal.SIGCONT)
                os.kill(p.pid, signal.SIGKILL)
            p.join(30)
    print(f"takeover after SIGSTOP: {takeover:.2f} s (lease {lease} s)")
    integrate_all(engine)
    report = verify_trail(engine, public_key=secrets.verify_key)
    with sessions() as s:
        staged = s.scalar(select(func.count()).where(AuditEvent.actor.like("processor:s%")))
        received = received_by(s, processor_id=1) | received_by(s, processor_id=2)
    assert staged == count.value > 0  # each committed stage once on the chain
    assert len(received) == count.value  # each a different person: none doubled
    assert report.pending.events == 0 and report.checkpoints >= 1


def test_the_sequence_command_integrates_in_a_process_of_its_own(
    settings: Settings, engine: Engine, sessions: sessionmaker[Session], secrets: InstanceSecrets
) -> None:
    env = dict(os.environ)
    env.update(
        VIGIE_DATA_DIR=str(settings.data_dir),
        VIGIE_DATABASE_URL=settings.resolved_database_url,
        VIGIE_AUDIT_SEQUENCER_POLL_SECONDS="0.02",
    )
    vigie = Path(sys.executable).with_name("vigie")
    proc = subprocess.Popen(
        [str(vigie), "audit", "sequence"], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        with sessions.begin() as s:
            stage(s, [_read(1, n) for n in range(10)])
        deadline = time.monotonic() + 120  # the process imports Vigie first
        while time.monotonic() < deadline:
            with sessions() as s:
                if pending(s).events == 0:
                    break
            time.sleep(0.1)
        with sessions() as s:
            assert pending(s).events == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "audit sequencer stopped" in err
    report = verify_trail(engine, public_key=secrets.verify_key)
    assert report.events == 10 + report.checkpoints and report.tail.events == 0
