"""Appending: sequence numbers, chain links, fail-closed rollback, validation."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from vigie.audit import canonical
from vigie.audit.actions import Action
from vigie.audit.models import AuditEvent, AuditHead
from vigie.audit.trail import NewEvent, append, append_many
from vigie.errors import AuditFailure


def test_append_numbers_and_chains_events(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        first = append(s, action=Action.KEY_ISSUE, actor="operator:cli", key_id=4)
        second = append(
            s,
            action=Action.SUBJECT_LIST,
            actor="processor:alpha/key:4",
            processor_id=1,
            key_id=4,
            origin="192.0.2.7",
            purpose="cir-training",
            subject_ids=[30, 10, 20, 10],
            fields=["name", "email"],
            detail={"page": 2, "count": 3},
        )
    assert (first, second) == (1, 2)
    with sessions() as s:
        events = s.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        head = s.get(AuditHead, 1)
    assert events[0].prev_hash == canonical.GENESIS
    assert events[1].prev_hash == events[0].entry_hash
    assert head is not None and head.size == 2 and head.head_hash == events[1].entry_hash
    assert canonical.decode_subjects(events[1].subjects) == [10, 20, 30]
    assert events[1].fields == "email,name"
    assert events[1].detail == '{"count":3,"page":2}'


def test_append_many_continues_the_chain(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        append(s, action=Action.SUBJECT_SYNTH, actor="system:synth")
    batch = [NewEvent(action=Action.ACCESS_DENIED, actor="system:gateway", outcome="denied")] * 5
    with sessions.begin() as s:
        assert append_many(s, batch) == [2, 3, 4, 5, 6]
        assert append_many(s, []) == []
    with sessions() as s:
        hashes = s.execute(
            select(AuditEvent.prev_hash, AuditEvent.entry_hash).order_by(AuditEvent.seq)
        ).all()
    for (_, before), (prev, _) in itertools.pairwise(hashes):
        assert prev == before


def test_explicit_time_is_kept(sessions: sessionmaker[Session]) -> None:
    at = datetime(2026, 1, 5, 9, 30, 0, 123456, tzinfo=UTC)
    with sessions.begin() as s:
        seq = append(s, action=Action.INCIDENT_OPEN, actor="operator:dpo", at=at)
    with sessions() as s:
        event = s.get(AuditEvent, seq)
    assert event is not None and event.at == at


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        ({"actor": "mallory"}, "actor"),
        ({"actor": "system:x", "action": "subject:steal"}, "subject:steal"),
        ({"actor": "system:x", "fields": ["a,b"]}, "field"),
        ({"actor": "system:x", "subject_ids": [-1]}, "non-negative"),
        ({"actor": "system:x", "detail": {"when": object()}}, "cannot record"),
    ],
)
def test_bad_events_are_refused_and_roll_back(
    sessions: sessionmaker[Session], kwargs: dict[str, object], why: str
) -> None:
    kwargs.setdefault("action", Action.SUBJECT_READ)
    with pytest.raises(AuditFailure, match=why), sessions.begin() as s:
        append(s, action=Action.KEY_ISSUE, actor="operator:cli")
        append(s, **kwargs)  # type: ignore[arg-type]
    with sessions() as s:
        assert s.scalar(select(AuditEvent.seq)) is None


def _refuse_event_inserts(engine: Engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON audit_events "
                    "BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'disk says no'; END $$"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON audit_events "
                    "FOR EACH ROW EXECUTE FUNCTION refuse()"
                )
            )


def test_disclosure_does_not_happen_when_the_trail_refuses(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    # A stand-in for the caller's own write: a row in the trail's head table.
    with sessions.begin() as s:
        append(s, action=Action.SUBJECT_SYNTH, actor="system:synth")
    _refuse_event_inserts(engine)
    with pytest.raises(AuditFailure, match="cannot record"), sessions.begin() as s:
        s.execute(text("UPDATE audit_head SET size = 99"))  # the "disclosure" side effect
        append(
            s,
            action=Action.SUBJECT_READ,
            actor="processor:alpha/key:1",
            processor_id=1,
            subject_ids=[5],
            fields=["name"],
        )
        pytest.fail("append must raise")
    with sessions() as s:
        head = s.get(AuditHead, 1)
        assert head is not None and head.size == 1  # the caller's write was rolled back
        assert s.scalar(text("SELECT count(*) FROM audit_disclosures")) == 0


def test_append_latency_and_failures_are_measured(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    def sample(name: str) -> float:
        return REGISTRY.get_sample_value(name) or 0.0

    appends, failures = (
        sample("vigie_audit_append_seconds_count"),
        sample("vigie_audit_append_failures_total"),
    )
    with sessions.begin() as s:
        append(s, action=Action.KEY_ISSUE, actor="operator:cli")
        append_many(s, [NewEvent(action=Action.KEY_ISSUE, actor="operator:cli")] * 3)
    assert sample("vigie_audit_append_seconds_count") == appends + 2  # one per append call
    assert sample("vigie_audit_append_failures_total") == failures
    _refuse_event_inserts(engine)
    with pytest.raises(AuditFailure), sessions.begin() as s:
        append(s, action=Action.KEY_ISSUE, actor="operator:cli")
    assert sample("vigie_audit_append_failures_total") == failures + 1
    assert sample("vigie_audit_append_seconds_count") == appends + 2
