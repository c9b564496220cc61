"""Checkpoints are signed tree heads, taken on demand or when due."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from vigie.audit import merkle
from vigie.audit.actions import Action
from vigie.audit.checkpoints import AppendWatch, Checkpointer, message, take
from vigie.audit.models import AuditCheckpoint, AuditEvent
from vigie.audit.verify import verify_trail
from vigie.secrets import InstanceSecrets

Fill = Callable[[Session, int], list[int]]

T0 = datetime(2026, 1, 10, 8, 0, tzinfo=UTC)


def _gauge(name: str) -> float | None:
    return REGISTRY.get_sample_value(name)


def test_checkpoint_signs_size_root_and_time(
    sessions: sessionmaker[Session], secrets: InstanceSecrets, fill: Fill
) -> None:
    with sessions.begin() as s:
        fill(s, 5)
        cp = take(s, signing_key=secrets.signing_key, actor="operator:cli", now=T0)
    assert cp is not None and cp.size == 5 and cp.at == T0
    secrets.verify_key.verify(cp.signature, message(5, cp.root, cp.at_us))
    with sessions() as s:
        leaves = list(s.scalars(select(AuditEvent.entry_hash).order_by(AuditEvent.seq)))
        last = s.get(AuditEvent, 6)
    assert cp.root == merkle.root(leaves[:5])
    assert last is not None and last.action == Action.AUDIT_CHECKPOINT
    assert json.loads(last.detail or "") == {
        "checkpoint": cp.id,
        "size": 5,
        "root": cp.root.hex(),
        "at_us": cp.at_us,
        "signature": cp.signature.hex(),
    }


def test_next_checkpoint_extends_the_stored_frontier(
    engine: Engine, sessions: sessionmaker[Session], secrets: InstanceSecrets, fill: Fill
) -> None:
    roots = []
    for n in (1, 2, 7, 0, 33):
        with sessions.begin() as s:
            fill(s, n)
            cp = take(s, signing_key=secrets.signing_key, actor="operator:cli")
            assert cp is not None
            roots.append((cp.size, cp.root))
    with sessions() as s:
        leaves = list(s.scalars(select(AuditEvent.entry_hash).order_by(AuditEvent.seq)))
    for size, root in roots:
        assert root == merkle.root(leaves[:size])
    assert verify_trail(engine, public_key=secrets.verify_key).checkpoints == 5


def test_checkpointer_takes_one_when_enough_events_or_time(
    sessions: sessionmaker[Session], secrets: InstanceSecrets, fill: Fill
) -> None:
    auto = Checkpointer(
        sessions=sessions, signing_key=secrets.signing_key, every_events=10, every_seconds=60
    )
    assert auto.maybe_checkpoint(now=T0) is None  # empty trail
    with sessions.begin() as s:
        fill(s, 3)
    first = auto.maybe_checkpoint(now=T0)
    assert first is not None and first.size == 3  # the first one anchors the trail at once
    assert _gauge("vigie_audit_last_checkpoint_timestamp_seconds") == T0.timestamp()
    assert _gauge("vigie_audit_unanchored_events") == 0
    with sessions.begin() as s:
        fill(s, 5)
    assert auto.maybe_checkpoint(now=T0 + timedelta(seconds=30)) is None  # 5 < 10, 30 s < 60 s
    assert _gauge("vigie_audit_unanchored_events") == 5  # the backlog, seen by the cheap check
    by_time = auto.maybe_checkpoint(now=T0 + timedelta(seconds=61))
    assert by_time is not None and by_time.size == 9
    # Only its own checkpoint event since: nothing is due, however long we wait.
    assert auto.maybe_checkpoint(now=T0 + timedelta(hours=5)) is None
    with sessions.begin() as s:
        fill(s, 10)
    by_count = auto.maybe_checkpoint(now=T0 + timedelta(seconds=62))
    assert by_count is not None and by_count.size == 20
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(AuditCheckpoint)) == 3


def test_append_watch_counts_only_committed_appends(
    engine: Engine, sessions: sessionmaker[Session], fill: Fill
) -> None:
    with sessions.begin() as s:  # before the watch: its mark must not leak into it
        fill(s, 1)
    watch = AppendWatch(engine)
    try:
        with sessions.begin() as s:
            s.scalar(select(func.count()).select_from(AuditEvent))
        assert not watch.appended  # a read-only transaction
        with sessions() as s:
            fill(s, 2)
            s.rollback()
        with sessions.begin() as s:
            s.scalar(select(func.count()).select_from(AuditEvent))
        assert not watch.appended  # rolled back: those events never existed
        with sessions.begin() as s:
            fill(s, 1)
        assert watch.appended
    finally:
        watch.close()
