"""The trail commits to its checkpoints, held checkpoints pin it, and the unanchored tail shows.

The ``filled`` trail: events 1..15, checkpoint #1 (15 events) announced by event 16,
events 17..30, checkpoint #2 (30 events) announced by event 31, then events 32..40.
Tampering here is what someone who can write the store (but not sign) can do: delete or
rewrite rows, then recompute the chain and its head so that every link still holds.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from vigie.audit import anchors, canonical, index
from vigie.audit.actions import Action
from vigie.audit.models import AuditCheckpoint, AuditEvent, to_us
from vigie.audit.proofs import SignedHead
from vigie.audit.trail import append
from vigie.audit.verify import verify_trail
from vigie.errors import IntegrityError, InvalidInput
from vigie.secrets import InstanceSecrets
from vigie.store import raw


def held_head(sessions: sessionmaker[Session], checkpoint_id: int) -> SignedHead:
    """The checkpoint as a third party received it, before any tampering."""
    with sessions() as s:
        cp = s.get(AuditCheckpoint, checkpoint_id)
        assert cp is not None
        return SignedHead.of(cp)


def rechain(engine: Engine, start: int) -> None:
    """Recompute every hash from event ``start`` on, and the head: what a forger does."""
    with engine.begin() as conn:
        prev = conn.execute(
            text("SELECT entry_hash FROM audit_events WHERE seq = :s"), {"s": start - 1}
        ).scalar()
        prev = canonical.GENESIS if prev is None else bytes(prev)
        rows = conn.execute(
            text(
                "SELECT seq, at_us, actor, processor_id, key_id, origin, action, purpose, "
                "subjects, fields, outcome, detail FROM audit_events WHERE seq >= :s ORDER BY seq"
            ),
            {"s": start},
        ).all()
        size = start - 1
        for r in rows:
            body = canonical.body(
                r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], bytes(r[8]), r[9], r[10], r[11]
            )
            entry = canonical.entry_hash(prev, body)
            conn.execute(
                text("UPDATE audit_events SET prev_hash = :p, entry_hash = :e WHERE seq = :s"),
                {"p": prev, "e": entry, "s": r[0]},
            )
            prev, size = entry, r[0]
        conn.execute(
            text("UPDATE audit_head SET size = :n, head_hash = :h WHERE id = 1"),
            {"n": size, "h": prev},
        )


def reindex(engine: Engine) -> None:
    """Rebuild the served index from the events left: what a thorough forger does too."""
    with engine.begin() as conn:
        for table in ("audit_disclosures", "audit_receipts", "audit_processor_fields"):
            conn.execute(text(f"DELETE FROM {table}"))
        rows = conn.execute(
            text(
                "SELECT seq, at_us, processor_id, subjects, fields FROM audit_events "
                "WHERE action IN ('subject:read', 'subject:list') AND outcome = 'ok' "
                "AND processor_id IS NOT NULL ORDER BY seq"
            )
        ).all()
        disclosures = [
            index.Disclosure(
                seq=r[0],
                at_us=r[1],
                processor_id=r[2],
                subject_ids=canonical.decode_subjects(bytes(r[3])),
                fields=r[4],
            )
            for r in rows
        ]
        index.record(raw.Cursor(conn), disclosures)


def cut(engine: Engine, *, keep: int) -> None:
    """Delete every event after ``keep`` and every checkpoint they announced; fix the head
    and the served index."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq > :k"), {"k": keep})
        conn.execute(text("DELETE FROM audit_checkpoints WHERE size >= :k"), {"k": keep})
    rechain(engine, keep + 1)
    reindex(engine)


def verify(engine: Engine, secrets: InstanceSecrets, *held: SignedHead) -> Any:
    return verify_trail(engine, public_key=secrets.verify_key, held=held)


def fails(engine: Engine, secrets: InstanceSecrets, *held: SignedHead) -> str:
    with pytest.raises(IntegrityError) as info:
        verify(engine, secrets, *held)
    return str(info.value)


def test_the_checkpoint_event_records_the_signed_head(
    sessions: sessionmaker[Session], filled: list[int]
) -> None:
    with sessions() as s:
        event = s.get(AuditEvent, 31)
        cp = s.get(AuditCheckpoint, filled[1])
    assert event is not None and cp is not None and event.action == Action.AUDIT_CHECKPOINT
    assert json.loads(event.detail or "") == {
        "checkpoint": cp.id,
        "size": 30,
        "root": cp.root.hex(),
        "at_us": cp.at_us,
        "signature": cp.signature.hex(),
    }


def test_deleting_one_checkpoint_row_is_named(
    engine: Engine, secrets: InstanceSecrets, filled: list[int]
) -> None:
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_checkpoints WHERE id = :i"), {"i": filled[0]})
    message = fails(engine, secrets)
    assert message.startswith(f"checkpoint #{filled[0]}:") and "deleted" in message


def test_deleting_every_checkpoint_row_is_named(
    engine: Engine, secrets: InstanceSecrets, filled: list[int]
) -> None:
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_checkpoints"))
    message = fails(engine, secrets)
    assert message.startswith(f"checkpoint #{filled[0]}:") and "deleted" in message


def test_replacing_a_checkpoint_with_an_earlier_one_is_named(
    engine: Engine, secrets: InstanceSecrets, filled: list[int]
) -> None:
    """Checkpoint #2's row shrunk to a copy of #1's (a genuine signature, an older head)."""
    first, second = filled
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE audit_checkpoints SET (size, root, at_us, signature, frontier) = "
                "(SELECT size, root, at_us, signature, frontier FROM audit_checkpoints "
                "WHERE id = :a) WHERE id = :b"
            ),
            {"a": first, "b": second},
        )
    message = fails(engine, secrets)
    assert message.startswith(f"checkpoint #{second}:") and "replaced" in message


def test_a_checkpoint_whose_event_was_removed_is_named(
    engine: Engine, secrets: InstanceSecrets, filled: list[int]
) -> None:
    """Event 31 (announcing checkpoint #2) removed, the events after it renumbered, rechained."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = 31"))
        for seq in range(32, 41):
            conn.execute(
                text("UPDATE audit_events SET seq = :n WHERE seq = :s"), {"n": seq - 1, "s": seq}
            )
    rechain(engine, 31)
    message = fails(engine, secrets)
    assert message.startswith(f"checkpoint #{filled[1]}:") and "not announced" in message


def test_a_removed_tail_passes_alone_but_not_against_a_held_checkpoint(
    engine: Engine, sessions: sessionmaker[Session], secrets: InstanceSecrets, filled: list[int]
) -> None:
    held = held_head(sessions, filled[1])
    cut(engine, keep=16)  # back to just after checkpoint #1's event
    assert verify(engine, secrets).events == 16  # the store alone cannot tell
    message = fails(engine, secrets, held)
    assert message.startswith(f"held checkpoint #{held.id}:"), message
    assert "events 17..30 were removed" in message


def test_a_rewritten_event_fails_against_a_held_checkpoint(
    engine: Engine, sessions: sessionmaker[Session], secrets: InstanceSecrets, filled: list[int]
) -> None:
    held = held_head(sessions, filled[1])
    cut(engine, keep=30)  # drop checkpoint #2, its event and the tail
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_events SET detail = :d WHERE seq = 20"), {"d": '{"page":99}'}
        )
    rechain(engine, 20)
    assert verify(engine, secrets).events == 30
    message = fails(engine, secrets, held)
    assert message.startswith(f"held checkpoint #{held.id}:") and "rewritten" in message


def test_a_held_checkpoint_must_be_in_the_store(
    engine: Engine, sessions: sessionmaker[Session], secrets: InstanceSecrets, filled: list[int]
) -> None:
    held = held_head(sessions, filled[0])
    assert verify(engine, secrets, held).events == 40
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_checkpoints WHERE id = :i"), {"i": held.id})
    assert f"checkpoint #{held.id}" in fails(engine, secrets, held)


def test_a_held_checkpoint_must_be_signed_by_the_instance(
    engine: Engine, sessions: sessionmaker[Session], secrets: InstanceSecrets, filled: list[int]
) -> None:
    held = held_head(sessions, filled[0])
    forged = SignedHead(
        id=held.id, size=held.size, root=held.root, at_us=held.at_us + 1, signature=held.signature
    )
    assert fails(engine, secrets, forged).startswith(f"held checkpoint #{held.id}: signature")


def test_tail_counts_events_after_the_last_checkpoint(
    engine: Engine, sessions: sessionmaker[Session], secrets: InstanceSecrets, filled: list[int]
) -> None:
    with sessions() as s:
        first_after = s.get(AuditEvent, 32)
    assert first_after is not None
    tail = verify(engine, secrets).tail
    assert (tail.events, tail.checkpoint, tail.oldest_us) == (9, filled[1], first_after.at_us)


def test_tail_of_a_trail_without_checkpoint_is_all_of_it(
    engine: Engine, sessions: sessionmaker[Session], secrets: InstanceSecrets
) -> None:
    t0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    with sessions.begin() as s:
        append(s, action=Action.KEY_ISSUE, actor="operator:dpo", at=t0)
        append(s, action=Action.KEY_ISSUE, actor="operator:dpo", at=t0 + timedelta(hours=1))
    tail = verify(engine, secrets).tail
    assert (tail.events, tail.checkpoint, tail.oldest_us) == (2, None, to_us(t0))


BOUND = anchors.Bound(max_events=10, max_seconds=600.0)
NOW = to_us(datetime(2026, 12, 1, 12, 0, tzinfo=UTC))


@pytest.mark.parametrize(
    ("tail", "problem"),
    [
        (anchors.Tail(events=0, checkpoint=None, oldest_us=None), None),  # empty trail
        (anchors.Tail(events=0, checkpoint=3, oldest_us=None), None),
        (anchors.Tail(events=10, checkpoint=3, oldest_us=NOW - 600_000_000), None),
        (anchors.Tail(events=11, checkpoint=3, oldest_us=NOW), "11 events after checkpoint #3"),
        (anchors.Tail(events=1, checkpoint=3, oldest_us=NOW - 601_000_000), "10 min 1 s old"),
        (anchors.Tail(events=1, checkpoint=None, oldest_us=NOW), "no signed checkpoint"),
    ],
)
def test_bound_on_the_unanchored_tail(tail: anchors.Tail, problem: str | None) -> None:
    if problem is None:
        anchors.require_anchored(tail, bound=BOUND, now_us=NOW)
        return
    with pytest.raises(IntegrityError, match="UNANCHORED") as info:
        anchors.require_anchored(tail, bound=BOUND, now_us=NOW)
    assert problem in str(info.value)


def test_held_checkpoints_are_read_from_json_or_jsonl(
    sessions: sessionmaker[Session], secrets: InstanceSecrets, filled: list[int]
) -> None:
    heads = [held_head(sessions, i) for i in filled]
    one = json.dumps({**heads[0].to_json(), "key_fingerprint": "ab" * 32}, indent=2)
    assert anchors.parse_held(one, source="cp.json") == [heads[0]]
    lines = "".join(json.dumps(h.to_json()) + "\n" for h in heads)
    assert anchors.parse_held(lines, source="checkpoints.jsonl") == heads
    with pytest.raises(InvalidInput, match=r"cp\.json: not a checkpoint"):
        anchors.parse_held('{"id": 1}', source="cp.json")
