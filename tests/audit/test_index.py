"""The served index answers who received whom, which fields, and when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from vigie.audit.actions import Action
from vigie.audit.index import fields_received, received_by, recipients
from vigie.audit.trail import NewEvent, append, append_many

T0 = datetime(2026, 1, 10, 8, 0, tzinfo=UTC)


def _read(
    s: Session, processor: int, subjects: list[int], fields: list[str], at: datetime, **kw: object
) -> int:
    return append(
        s,
        action=Action.SUBJECT_LIST,
        actor=f"processor:p{processor}/key:1",
        processor_id=processor,
        key_id=1,
        subject_ids=subjects,
        fields=fields,
        at=at,
        **kw,  # type: ignore[arg-type]
    )


def test_recipients_merge_fields_and_times(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        a = _read(s, 1, [7, 8], ["name"], T0)
        b = _read(s, 2, [7], ["email"], T0 + timedelta(hours=1))
    with sessions.begin() as s:
        c = _read(s, 1, [7], ["email", "name"], T0 + timedelta(days=2))
    with sessions() as s:
        got = recipients(s, subject_ids=[7, 99])
    assert [(r.processor_id, r.subject_id) for r in got] == [(1, 7), (2, 7)]
    one = got[0]
    assert one.fields == frozenset({"name", "email"})
    assert (one.first_at, one.last_at) == (T0, T0 + timedelta(days=2))
    assert (one.first_seq, one.last_seq) == (a, c)
    assert (got[1].first_seq, got[1].fields) == (b, frozenset({"email"}))


def test_received_by_time_range(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        _read(s, 1, [1, 2], ["name"], T0)
        _read(s, 1, [3], ["name"], T0 + timedelta(days=1))
        _read(s, 1, [1], ["name"], T0 + timedelta(days=5))
        _read(s, 2, [4], ["name"], T0 + timedelta(days=1))
    with sessions() as s:
        assert received_by(s, processor_id=1) == {1, 2, 3}
        assert received_by(s, processor_id=1, since=T0 + timedelta(hours=1)) == {1, 3}
        assert received_by(
            s, processor_id=1, since=T0 + timedelta(hours=1), until=T0 + timedelta(days=2)
        ) == {3}
        assert received_by(s, processor_id=1, until=T0) == {1, 2}
        assert received_by(s, processor_id=3) == set()


def test_only_successful_disclosures_are_indexed(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        _read(s, 1, [1], ["name"], T0, outcome="denied")
        append(
            s,
            action=Action.SUBJECT_WRITE,
            actor="processor:p1/key:1",
            processor_id=1,
            subject_ids=[2],
            fields=["attendance_hours"],
        )
        append(
            s, action=Action.SUBJECT_EXPORT, actor="operator:cli", subject_ids=[3], fields=["name"]
        )
        _read(s, 1, [4], ["nationality"], T0)
    with sessions() as s:
        assert received_by(s, processor_id=1) == {4}
        assert fields_received(s, processor_id=1) == frozenset({"nationality"})
        assert recipients(s, subject_ids=[1, 2, 3]) == []


def test_batch_of_disclosures_of_the_same_person(sessions: sessionmaker[Session]) -> None:
    events = [
        NewEvent(
            action=Action.SUBJECT_READ,
            actor="processor:p1/key:1",
            processor_id=1,
            subject_ids=[5],
            fields=[f],
            at=T0 + timedelta(minutes=i),
        )
        for i, f in enumerate(["name", "email", "phone"])
    ]
    with sessions.begin() as s:
        seqs = append_many(s, events)
    with sessions() as s:
        (r,) = recipients(s, subject_ids=[5])
        assert r.fields == frozenset({"name", "email", "phone"})
        assert (r.first_seq, r.last_seq) == (seqs[0], seqs[-1])
        assert r.last_at == T0 + timedelta(minutes=2)
        assert fields_received(s, processor_id=1) == frozenset({"name", "email", "phone"})


def test_an_empty_page_discloses_no_field(sessions: sessionmaker[Session]) -> None:
    # In the same batch as a real disclosure, an empty page must not record its fields:
    # the index has to be what the events say whatever the batching (verify recomputes it).
    events = [
        NewEvent(action=Action.SUBJECT_LIST, actor="processor:p3/key:1", processor_id=3,
                 subject_ids=[], fields=["birth_date"], at=T0),
        NewEvent(action=Action.SUBJECT_READ, actor="processor:p1/key:1", processor_id=1,
                 subject_ids=[5], fields=["name"], at=T0),
    ]  # fmt: skip
    with sessions.begin() as s:
        append_many(s, events)
    with sessions() as s:
        assert fields_received(s, processor_id=3) == frozenset()
        assert fields_received(s, processor_id=1) == frozenset({"name"})
