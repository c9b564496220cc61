"""``verify_trail`` passes a healthy trail and names the first fault of a tampered one."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from vigie.audit.verify import verify_trail
from vigie.errors import IntegrityError
from vigie.secrets import InstanceSecrets

FIXTURES = [HealthCheck.function_scoped_fixture]
N = 40  # events in the ``filled`` trail: 38 filled + 2 checkpoint events
COLUMNS = {
    "seq": 8,
    "at_us": 8,
    "actor": "text",
    "processor_id": 4,
    "key_id": 4,
    "origin": "text",
    "action": "text",
    "purpose": "text",
    "subjects": "bytes",
    "fields": "text",
    "outcome": "text",
    "detail": "text",
    "prev_hash": "bytes",
    "entry_hash": "bytes",
}


def verify(engine: Engine, secrets: InstanceSecrets) -> Any:
    return verify_trail(engine, public_key=secrets.verify_key)


def fails(engine: Engine, secrets: InstanceSecrets) -> str:
    with pytest.raises(IntegrityError) as info:
        verify(engine, secrets)
    return str(info.value)


def test_healthy_trail_verifies(
    engine: Engine, secrets: InstanceSecrets, filled: list[int]
) -> None:
    report = verify(engine, secrets)
    assert (report.events, report.checkpoints) == (N, 2)


def test_empty_trail_verifies(engine: Engine, secrets: InstanceSecrets) -> None:
    assert verify(engine, secrets).events == 0


def _mutate(value: Any, kind: Any, pos: int, new: int) -> Any:
    if value is None:
        return 0 if isinstance(kind, int) else ("x" if kind == "text" else b"x")
    if isinstance(kind, int):
        raw = bytearray(value.to_bytes(kind, "big", signed=True))
        i = pos % kind
        raw[i] = new if raw[i] != new else (new + 1) % 256
        return int.from_bytes(raw, "big", signed=True)
    if kind == "text":
        if not value:
            return "x"
        i = pos % len(value)
        ch = chr(0x20 + new % 0x5F)
        ch = ch if ch != value[i] else chr(0x20 + (new + 1) % 0x5F)
        return value[:i] + ch + value[i + 1 :]
    raw = bytearray(value)
    if not raw:
        return b"\x01"
    i = pos % len(raw)
    raw[i] = new if raw[i] != new else (new + 1) % 256
    return bytes(raw)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seq=st.integers(1, N),
    column=st.sampled_from(sorted(COLUMNS)),
    pos=st.integers(0, 200),
    new=st.integers(0, 255),
)
def test_any_single_change_to_an_event_is_named(
    engine: Engine,
    secrets: InstanceSecrets,
    filled: list[int],
    seq: int,
    column: str,
    pos: int,
    new: int,
) -> None:
    with engine.connect() as conn:
        old = conn.execute(
            text(f"SELECT {column} FROM audit_events WHERE seq = :s"), {"s": seq}
        ).scalar()
    if isinstance(old, memoryview):
        old = bytes(old)
    value = _mutate(old, COLUMNS[column], pos, new)
    assume(value != old)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(f"UPDATE audit_events SET {column} = :v WHERE seq = :s"),
                {"v": value, "s": seq},
            )
    except DBAPIError:  # e.g. a renumbering onto an existing event: the database refuses it
        assume(False)
    try:
        message = fails(engine, secrets)
        if column == "seq":
            assert message.startswith(
                (f"event {seq} missing", f"event {seq}..", f"event {value} out of place")
            )
        else:
            assert message.startswith(f"event {seq}:"), message
    finally:
        restore = value if column == "seq" else seq
        with engine.begin() as conn:
            conn.execute(
                text(f"UPDATE audit_events SET {column} = :v WHERE seq = :s"),
                {"v": old, "s": restore},
            )
    verify(engine, secrets)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.integers(1, N - 1))
def test_removing_an_event_is_named(
    engine: Engine, secrets: InstanceSecrets, filled: list[int], seq: int
) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TEMPORARY TABLE IF NOT EXISTS saved AS "
                "SELECT * FROM audit_events WHERE 1 = 0"
            )
        )
        conn.execute(
            text("INSERT INTO saved SELECT * FROM audit_events WHERE seq = :s"), {"s": seq}
        )
        conn.execute(text("DELETE FROM audit_events WHERE seq = :s"), {"s": seq})
    try:
        assert f"event {seq} missing" in fails(engine, secrets)
    finally:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO audit_events SELECT * FROM saved"))
            conn.execute(text("DELETE FROM saved"))


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.integers(1, N).flatmap(
        lambda a: st.tuples(st.just(a), st.integers(1, N).filter(lambda b: b != a))
    )
)
def test_swapping_two_events_names_the_first(
    engine: Engine, secrets: InstanceSecrets, filled: list[int], pair: list[int]
) -> None:
    a, b = sorted(pair)
    cols = [c for c in COLUMNS if c != "seq"]
    with engine.connect() as conn:
        rows = {
            r[0]: r[1:]
            for r in conn.execute(
                text(f"SELECT seq, {', '.join(cols)} FROM audit_events WHERE seq IN (:a, :b)"),
                {"a": a, "b": b},
            )
        }
    sets = ", ".join(f"{c} = :{c}" for c in cols)

    def put(seq: int, values: Any) -> None:
        with engine.begin() as conn:
            conn.execute(
                text(f"UPDATE audit_events SET {sets} WHERE seq = :seq"),
                {"seq": seq, **dict(zip(cols, values, strict=True))},
            )

    put(a, rows[b])
    put(b, rows[a])
    try:
        assert fails(engine, secrets).startswith(f"event {a}:")
    finally:
        put(a, rows[a])
        put(b, rows[b])


@pytest.mark.parametrize("keep", [0, 5, 16, 30, 31, 39])
def test_truncation_is_named(
    engine: Engine, secrets: InstanceSecrets, filled: list[int], keep: int
) -> None:
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq > :k"), {"k": keep})
    message = fails(engine, secrets)
    if keep < 30:  # the second checkpoint signs the first 30 events
        assert message.startswith("checkpoint #"), message
        assert "were removed" in message
    else:
        assert message.startswith("trail head:"), message


@pytest.mark.parametrize(
    "column", ["size", "root", "at_us", "signature", "frontier", "key_fingerprint"]
)
def test_altered_checkpoint_is_named(
    engine: Engine, secrets: InstanceSecrets, filled: list[int], column: str
) -> None:
    cp = filled[1]
    with engine.connect() as conn:
        old = conn.execute(
            text(f"SELECT {column} FROM audit_checkpoints WHERE id = :i"), {"i": cp}
        ).scalar()
    value = _mutate(
        bytes(old) if isinstance(old, memoryview) else old,
        8 if isinstance(old, int) else ("text" if isinstance(old, str) else "bytes"),
        3,
        7,
    )
    with engine.begin() as conn:
        conn.execute(
            text(f"UPDATE audit_checkpoints SET {column} = :v WHERE id = :i"), {"v": value, "i": cp}
        )
    assert fails(engine, secrets).startswith(f"checkpoint #{cp}:")


def test_other_key_is_refused(engine: Engine, filled: list[int]) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    with pytest.raises(IntegrityError, match=f"checkpoint #{filled[0]}: signed by another key"):
        verify_trail(engine, public_key=Ed25519PrivateKey.generate().public_key())
