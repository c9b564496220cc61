"""The served index is evidence: ``verify_trail`` recomputes it from the chained events.

Every row attribution, dating or a person's disclosure report reads must be what the
verified disclosure events say, exactly: a row removed, added or altered in
``audit_disclosures``, ``audit_receipts`` or ``audit_processor_fields`` fails
verification, naming the processor, the person's id and the event, never a value.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from vigie.audit.actions import Action
from vigie.audit.checkpoints import take
from vigie.audit.trail import NewEvent, append_many
from vigie.audit.verify import verify_trail
from vigie.errors import IntegrityError
from vigie.processors.apply import apply_file
from vigie.processors.models import Processor
from vigie.secrets import InstanceSecrets

T0 = datetime(2026, 1, 10, 8, 0, tzinfo=UTC)
T0_US = int(T0.timestamp()) * 1_000_000


def _fails(engine: Engine, secrets: InstanceSecrets) -> str:
    with pytest.raises(IntegrityError) as info:
        verify_trail(engine, public_key=secrets.verify_key)
    return str(info.value)


def _run(engine: Engine, sql: str) -> int:
    with engine.begin() as conn:
        return conn.execute(text(sql)).rowcount


def test_healthy_index_verifies_and_is_counted(
    engine: Engine, secrets: InstanceSecrets, filled: list[int]
) -> None:
    report = verify_trail(engine, public_key=secrets.verify_key)
    # 13 disclosure events of 3 people each, 15 people in all (one field set), 3 fields.
    assert report.index_rows == 39 + 15 + 3


# (what is done to the index, words the failure must hold)
TAMPERING = {
    "one disclosure row deleted": (
        "DELETE FROM audit_disclosures WHERE seq = (SELECT min(seq) FROM audit_disclosures) "
        "AND subject_id = 100",
        "processor 1 received person id 100 in event 1, but the index row is missing",
    ),
    "every disclosure of a processor deleted": (
        "DELETE FROM audit_disclosures WHERE processor_id = 1",
        "the index row is missing",
    ),
    "a fake disclosure frames another processor": (
        f"INSERT INTO audit_disclosures (processor_id, at_us, seq, subject_id) "
        f"VALUES (2, {T0_US}, 1, 100)",
        "index row with no event behind it: processor 2, person id 100, event 1",
    ),
    "a disclosure's time altered": (
        "UPDATE audit_disclosures SET at_us = at_us + 1000000 WHERE subject_id = 100",
        "processor 1, person id 100, event 1: the index row's time was altered",
    ),
    "a receipt deleted": (
        "DELETE FROM audit_receipts WHERE subject_id = 103",
        "processor 1 received person id 103 (event 4), but its receipt is missing",
    ),
    "a receipt's first time altered": (
        "UPDATE audit_receipts SET first_us = first_us - 86400000000 WHERE subject_id = 103",
        "receipt of person id 103 by processor 1: first time altered",
    ),
    "a receipt's last event altered": (
        "UPDATE audit_receipts SET last_seq = 2 WHERE subject_id = 103",
        "receipt of person id 103 by processor 1: last event altered",
    ),
    "a fake receipt": (
        "INSERT INTO audit_receipts (processor_id, subject_id, fields, first_us, last_us, "
        f"first_seq, last_seq) VALUES (2, 103, 'email', {T0_US}, {T0_US}, 4, 4)",
        "receipt with no event behind it: person id 103, processor 2",
    ),
    "a receipt's field set altered": (
        "UPDATE audit_receipts SET fields = 'email,name,nationality,phone' WHERE subject_id = 103",
        "receipt of person id 103 by processor 1: field set altered",
    ),
    "a processor field deleted": (
        "DELETE FROM audit_processor_fields WHERE processor_id = 1 AND field = 'phone'",
        "processor 1 received field 'phone' (event 1), but the index row is missing",
    ),
    "a processor field added": (
        "INSERT INTO audit_processor_fields (processor_id, field) VALUES (2, 'nationality')",
        "processor 2, field 'nationality': an index row with no event behind it",
    ),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_tampered_index_fails_verification(
    engine: Engine, secrets: InstanceSecrets, filled: list[int], case: str
) -> None:
    sql, words = TAMPERING[case]
    assert _run(engine, sql) >= 1
    message = _fails(engine, secrets)
    assert message.startswith("served index: "), message
    assert words in message, message


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_disclosures SET at_us = 'soon' WHERE subject_id = 100",
        "UPDATE audit_disclosures SET subject_id = 100.5 WHERE subject_id = 100",
    ],
)
def test_a_disclosure_row_that_is_not_integers_fails(
    engine: Engine, secrets: InstanceSecrets, filled: list[int], sql: str
) -> None:
    """SQLite keeps whatever type it is given: a text or a real where an integer belongs is
    a row that differs, not one to convert into the integer it resembles."""
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL refuses the value itself")
    assert _run(engine, sql) >= 1
    message = _fails(engine, secrets)
    assert message.startswith(
        "served index: an audit_disclosures row holds a value that is not an integer "
        "(processor 1, event 1, person id "
    ), message


def test_a_receipt_time_off_by_half_a_microsecond_fails(
    engine: Engine, secrets: InstanceSecrets, filled: list[int]
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL refuses the value itself")
    assert _run(engine, "UPDATE audit_receipts SET last_us = last_us + 0.5 WHERE subject_id = 103")
    message = _fails(engine, secrets)
    assert message == (
        "served index: an audit_receipts row holds a value that is not an integer "
        "(person id 103, processor 1)"
    )


def test_the_index_is_compared_across_batches(
    engine: Engine,
    secrets: InstanceSecrets,
    filled: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Events and index rows are read and compared batch by batch: with batches of two
    rows, a healthy index still verifies whole and a row removed anywhere is found."""
    from vigie.audit import evidence, gather

    monkeypatch.setattr(gather, "BATCH", 2)
    monkeypatch.setattr(evidence, "BATCH", 2)
    assert verify_trail(engine, public_key=secrets.verify_key).index_rows == 39 + 15 + 3
    _run(engine, "DELETE FROM audit_receipts WHERE subject_id = 5084")  # the last key
    message = _fails(engine, secrets)
    assert message.startswith("served index: processor 1 received person id 5084 (event "), message
    assert "but its receipt is missing" in message


def test_trail_faults_are_named_before_index_faults(
    engine: Engine, secrets: InstanceSecrets, filled: list[int]
) -> None:
    # Removing the last disclosure event leaves its index rows orphaned; what verify
    # names first is the trail's own fault.
    last = "(SELECT max(seq) FROM audit_disclosures)"
    _run(engine, f"DELETE FROM audit_events WHERE seq >= {last}")
    assert "trail head" in _fails(engine, secrets)


def _event(
    processor: int, ids: list[int], fields: list[str], at: datetime, **kw: object
) -> NewEvent:
    return NewEvent(
        action=Action.SUBJECT_READ if len(ids) == 1 else Action.SUBJECT_LIST,
        actor=f"processor:p{processor}/key:1",
        processor_id=processor,
        key_id=1,
        subject_ids=ids,
        fields=fields,
        at=at,
        **kw,  # type: ignore[arg-type]
    )


def test_index_check_follows_the_index_rules(
    engine: Engine, sessions: sessionmaker[Session], secrets: InstanceSecrets
) -> None:
    """Big ids (multi-byte varints), times that go back, several field sets, denied and
    empty disclosures, and events without a processor: all must recompute exactly."""
    events = [
        _event(1, [2**40 + 5, 3, 2**20], ["name", "email"], T0),
        _event(1, [3], ["name"], T0 - timedelta(days=3)),  # an earlier time, a later seq
        _event(2, [3, 70_000], ["phone"], T0 + timedelta(hours=1)),
        _event(2, [9], ["nationality"], T0, outcome="denied"),
        _event(3, [], ["birth_date"], T0),  # an empty page discloses no field
        NewEvent(action=Action.SUBJECT_EXPORT, actor="operator:dpo", subject_ids=[4], fields=["x"]),
    ]
    with sessions.begin() as s:
        append_many(s, events[:3])
    with sessions.begin() as s:
        append_many(s, events[3:])
    with sessions.begin() as s:
        append_many(s, [_event(1, [3, 2**40 + 5], ["email", "name"], T0 + timedelta(days=1))])
    report = verify_trail(engine, public_key=secrets.verify_key)
    assert report.index_rows == (3 + 1 + 2 + 2) + (3 + 1 + 2) + (2 + 1)
    _run(engine, "DELETE FROM audit_disclosures WHERE subject_id = 1099511627781 AND seq = 7")
    assert "person id 1099511627781 in event 7" in _fails(engine, secrets)


def test_field_sets_in_any_order_verify(
    engine: Engine, sessions: sessionmaker[Session], secrets: InstanceSecrets
) -> None:
    """One person received by one processor under several field sets, first seen in an
    order that is not the byte order of their names (nor a case-insensitive collation's):
    the receipts are still matched one for one, and a swapped field set is still found."""
    events = [
        _event(1, [3], ["name"], T0),
        _event(1, [3], ["email", "name"], T0 + timedelta(hours=1)),
        _event(1, [3], ["Zone"], T0 + timedelta(hours=2)),
        _event(1, [3, 4], ["birth_date"], T0 + timedelta(hours=3)),
    ]
    with sessions.begin() as s:
        append_many(s, events)
    report = verify_trail(engine, public_key=secrets.verify_key)
    assert report.index_rows == 5 + 5 + 4
    _run(engine, "UPDATE audit_receipts SET fields = 'email' WHERE fields = 'name'")
    assert "field set altered (person id 3, processor 1, fields 'name' -> 'email')" in _fails(
        engine, secrets
    )


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    reads=st.lists(
        st.tuples(
            st.integers(1, 3),
            st.lists(st.integers(0, 2**33), min_size=1, max_size=5),
            st.sampled_from([("name",), ("email", "name"), ("phone",)]),
            st.integers(-(10**9), 10**9),
        ),
        min_size=1,
        max_size=12,
    ),
    victim=st.integers(0, 10**6),
    table=st.sampled_from(["audit_disclosures", "audit_receipts", "audit_processor_fields"]),
)
def test_any_index_row_removed_is_detected(
    engine: Engine,
    sessions: sessionmaker[Session],
    secrets: InstanceSecrets,
    reads: list[tuple[int, list[int], tuple[str, ...], int]],
    victim: int,
    table: str,
) -> None:
    for name in ("audit_disclosures", "audit_receipts", "audit_processor_fields", "audit_events",
                 "audit_head", "audit_checkpoints"):  # fmt: skip
        _run(engine, f"DELETE FROM {name}")
    with sessions.begin() as s:
        append_many(
            s, [_event(p, ids, list(f), T0 + timedelta(microseconds=d)) for p, ids, f, d in reads]
        )
    verify_trail(engine, public_key=secrets.verify_key)
    with engine.connect() as conn:
        n = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    offset = victim % n
    key = {
        "audit_disclosures": "processor_id, at_us, seq, subject_id",
        "audit_receipts": "subject_id, processor_id, fields",
        "audit_processor_fields": "processor_id, field",
    }[table]
    where = " AND ".join(f"{c} = t.{c}" for c in key.split(", "))
    _run(
        engine,
        f"DELETE FROM {table} WHERE EXISTS (SELECT 1 FROM (SELECT {key} FROM {table} "
        f"ORDER BY {key} LIMIT 1 OFFSET {offset}) AS t WHERE {where})",
    )
    assert _fails(engine, secrets).startswith("served index: ")


# -- the canary flag ------------------------------------------------------------------


@pytest.fixture
def planted(engine: Engine, sessions: sessionmaker[Session], secrets: InstanceSecrets) -> list[int]:
    """A synthetic registry with canaries, the trail anchored; returns the canaries' ids."""
    from vigie.audit.checkpoints import take
    from vigie.registry.models import Subject
    from vigie.synth.load import synthesize

    synthesize(engine, people=300, seed=5, canary_density=0.02)
    with sessions.begin() as s:
        take(s, signing_key=secrets.signing_key, actor="operator:cli")
    with sessions() as s:
        ids = sorted(s.scalars(select(Subject.id).where(Subject.is_canary)))
    assert ids
    return ids


def _flag(engine: Engine, subject_id: int, value: bool) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE subjects SET is_canary = :v WHERE id = :i"), {"v": value, "i": subject_id}
        )


def test_the_canaries_verify_as_planted(
    engine: Engine, secrets: InstanceSecrets, planted: list[int]
) -> None:
    assert verify_trail(engine, public_key=secrets.verify_key).canaries == len(planted)


def test_a_real_person_flagged_a_canary_fails(
    engine: Engine, secrets: InstanceSecrets, planted: list[int]
) -> None:
    """Flagging a real person a canary would make attribution weigh a dump holding them
    as a canary find, and name a processor that received them."""
    real = next(i for i in range(1, planted[-1]) if i not in planted)
    _flag(engine, real, True)
    message = _fails(engine, secrets)
    assert message == (
        f"canaries: person id {real} is flagged a canary, but no `canary:plant` event "
        "planted it (a real person was turned into a canary)"
    )


def test_a_canary_turned_into_a_real_person_fails(
    engine: Engine, secrets: InstanceSecrets, planted: list[int]
) -> None:
    _flag(engine, planted[0], False)
    message = _fails(engine, secrets)
    assert message.startswith(f"canaries: person id {planted[0]} was planted a canary by event ")
    assert message.endswith("but is no longer flagged one (a canary was turned into a real person)")


def test_attribution_is_refused_when_the_canaries_do_not_verify(
    engine: Engine, secrets: InstanceSecrets, planted: list[int]
) -> None:
    from vigie.audit.anchors import Bound
    from vigie.audit.evidence import require_verified

    bound = Bound(max_events=10, max_seconds=900.0)
    assert require_verified(engine, public_key=secrets.verify_key, bound=bound, purpose="a") > 0
    _flag(engine, planted[-1], False)
    with pytest.raises(IntegrityError) as info:
        require_verified(engine, public_key=secrets.verify_key, bound=bound, purpose="attribution")
    assert str(info.value).startswith("the audit trail does not verify: canaries: person id ")
    assert "attribution refused" in str(info.value)


# --- the processors' names -------------------------------------------------------------

TWO_PROCESSORS = """\
processors:
  - name: lingua-a
    legal_name: "Lingua A SAS (fictitious)"
    siren: "732100003"
    contact_email: dpo@lingua-a.example
    security_officer: "Claire Martin"
  - name: civic-b
    legal_name: "Civic B SAS (fictitious)"
    siren: "732100003"
    contact_email: dpo@civic-b.example
    security_officer: "Marc Petit"
"""


@pytest.fixture
def named(sessions: sessionmaker[Session], tmp_path: Path) -> dict[str, int]:
    """Two processors created by `processors apply` (the real path): name -> id."""
    path = tmp_path / "processors.yaml"
    path.write_text(TWO_PROCESSORS)
    with sessions.begin() as s:
        apply_file(s, path=path, actor="operator:dpo")
        return {p.name: p.id for p in s.scalars(select(Processor))}


def test_the_processors_verify_as_created(
    engine: Engine, secrets: InstanceSecrets, named: dict[str, int]
) -> None:
    assert verify_trail(engine, public_key=secrets.verify_key).processors == 2


def test_swapped_processor_names_fail(
    engine: Engine, secrets: InstanceSecrets, named: dict[str, int]
) -> None:
    """Reports name a processor by its row: swapping two names would blame the wrong one."""
    a, b = named["lingua-a"], named["civic-b"]
    _run(engine, f"UPDATE processors SET name = 'swap' WHERE id = {a}")
    _run(engine, f"UPDATE processors SET name = 'lingua-a' WHERE id = {b}")
    _run(engine, f"UPDATE processors SET name = 'civic-b' WHERE id = {a}")
    message = _fails(engine, secrets)
    assert message.startswith(f"processors: processor id {a} is named 'civic-b', but event ")
    assert message.endswith(
        "created it as 'lingua-a' (renamed behind Vigie's back: reports would name the wrong "
        "processor)"
    )


def test_a_deleted_or_smuggled_processor_fails(
    engine: Engine, secrets: InstanceSecrets, named: dict[str, int]
) -> None:
    b = named["civic-b"]
    _run(engine, f"DELETE FROM processors WHERE id = {b}")
    message = _fails(engine, secrets)
    assert message.startswith(f"processors: processor id {b} ('civic-b'), created by event ")
    assert message.endswith(
        "is missing from the store (a deleted processor can no longer be named)"
    )
    _run(
        engine,
        "INSERT INTO processors (id, name, legal_name, siren, contact_email, security_officer) "
        "SELECT 99, 'ghost', legal_name, siren, contact_email, security_officer "
        f"FROM processors WHERE id = {named['lingua-a']}",
    )
    assert _fails(engine, secrets).startswith("processors: processor id 99 ('ghost') has no ")


def test_attribution_is_refused_when_a_processor_is_renamed(
    engine: Engine,
    sessions: sessionmaker[Session],
    secrets: InstanceSecrets,
    named: dict[str, int],
) -> None:
    from vigie.audit.anchors import Bound
    from vigie.audit.evidence import require_verified

    bound = Bound(max_events=10, max_seconds=900.0)
    with sessions.begin() as s:
        take(s, signing_key=secrets.signing_key, actor="operator:dpo")
    assert require_verified(engine, public_key=secrets.verify_key, bound=bound, purpose="a") > 0
    _run(engine, f"UPDATE processors SET name = 'framed' WHERE id = {named['lingua-a']}")
    with pytest.raises(IntegrityError) as info:
        require_verified(engine, public_key=secrets.verify_key, bound=bound, purpose="attribution")
    assert str(info.value).startswith("the audit trail does not verify: processors: processor id")
    assert "attribution refused" in str(info.value)
