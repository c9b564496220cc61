"""The evidence gate: attribution, dating and the authority pack rest on an anchored trail.

:func:`vigie.audit.evidence.require_verified` refuses, like ``vigie audit verify --strict``,
a trail whose events after the last signed checkpoint exceed the bound — or that has no
checkpoint at all: those events could have been removed or rewritten, the chain
recomputed, without trace.
"""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from vigie.audit.anchors import Bound
from vigie.audit.checkpoints import take
from vigie.audit.evidence import require_verified, still_verified, verify_ahead
from vigie.errors import IntegrityError
from vigie.secrets import InstanceSecrets

from .conftest import fill

BOUND = Bound(max_events=10, max_seconds=900.0)


def _refusal(sessions: sessionmaker[Session], secrets: InstanceSecrets, **kw: object) -> str:
    with sessions() as s, pytest.raises(IntegrityError) as info:
        require_verified(s, public_key=secrets.verify_key, bound=BOUND, purpose="attribution", **kw)  # type: ignore[arg-type]
    return str(info.value)


def _sign(sessions: sessionmaker[Session], secrets: InstanceSecrets) -> None:
    with sessions.begin() as s:
        assert take(s, signing_key=secrets.signing_key, actor="operator:cli") is not None


def test_a_trail_with_no_checkpoint_is_refused(
    sessions: sessionmaker[Session], secrets: InstanceSecrets
) -> None:
    with sessions.begin() as s:
        fill(s, 3)
    message = _refusal(sessions, secrets)
    assert message.startswith("UNANCHORED: 3 events and no signed checkpoint at all"), message
    assert message.endswith(
        "attribution refused — find out why no checkpoint was taken, then sign one with "
        "`vigie audit checkpoint`"
    ), message


def test_a_tail_beyond_the_event_bound_is_refused(
    sessions: sessionmaker[Session], secrets: InstanceSecrets
) -> None:
    with sessions.begin() as s:
        fill(s, 5)
    _sign(sessions, secrets)
    with sessions.begin() as s:
        fill(s, 11)
    message = _refusal(sessions, secrets)
    assert message.startswith("UNANCHORED: 11 events after checkpoint #1"), message
    assert "(bound: 10 events, 15 min)" in message and "attribution refused" in message


def test_a_tail_older_than_the_bound_is_refused(
    sessions: sessionmaker[Session], secrets: InstanceSecrets
) -> None:
    _sign(sessions, secrets)
    with sessions.begin() as s:
        fill(s, 2)
    later = time.time_ns() // 1000 + 3600 * 1_000_000  # an hour from now
    assert "UNANCHORED: 2 events after checkpoint #1, the oldest 1 h" in _refusal(
        sessions, secrets, now_us=later
    )


def test_within_the_bound_the_gate_opens(
    sessions: sessionmaker[Session], secrets: InstanceSecrets
) -> None:
    with sessions.begin() as s:
        fill(s, 5)
    _sign(sessions, secrets)
    with sessions.begin() as s:
        fill(s, 10)  # exactly the bound
    with sessions() as s:
        events = require_verified(
            s, public_key=secrets.verify_key, bound=BOUND, purpose="attribution"
        )
    assert events == 5 + 1 + 10  # the checkpoint's own event included


def test_an_empty_trail_is_refused(
    sessions: sessionmaker[Session], secrets: InstanceSecrets
) -> None:
    """Deleting the whole trail (events, checkpoints, head, index) leaves a store that
    verifies as empty: the gate must not read that as "nobody received anything"."""
    message = _refusal(sessions, secrets)
    assert message.startswith("UNANCHORED: the audit trail holds no event"), message
    assert "attribution refused" in message


def test_verify_ahead_then_still_verified_while_the_trail_grows(
    engine: Engine, sessions: sessionmaker[Session], secrets: InstanceSecrets
) -> None:
    with sessions.begin() as s:
        fill(s, 5)
    _sign(sessions, secrets)
    verified = verify_ahead(engine, public_key=secrets.verify_key, bound=BOUND, purpose="the pack")
    assert verified.size >= 5
    with sessions.begin() as s:
        still_verified(s, verified)  # unchanged
        fill(s, 2)
    with sessions.begin() as s:
        still_verified(s, verified)  # grown on top of what was verified


def test_still_verified_refuses_a_trail_changed_under_the_verification(
    engine: Engine, sessions: sessionmaker[Session], secrets: InstanceSecrets
) -> None:
    with sessions.begin() as s:
        fill(s, 5)
    _sign(sessions, secrets)
    verified = verify_ahead(engine, public_key=secrets.verify_key, bound=BOUND, purpose="the pack")
    for changed in (
        replace(verified, head_hash=b"\0" * 32),  # the verified head event was rewritten
        replace(verified, size=verified.size + 3),  # the trail is shorter than verified
    ):
        with sessions.begin() as s, pytest.raises(IntegrityError) as info:
            still_verified(s, changed)
        assert "changed under the verification" in str(info.value)
        assert str(info.value).endswith("the pack refused — run it again")
    with sessions.begin() as s:
        fill(s, 2)
    with sessions.begin() as s, pytest.raises(IntegrityError):
        still_verified(s, replace(verified, head_hash=b"\1" * 32))  # grown, but not on it


def test_verify_ahead_refuses_as_the_gate_does(
    engine: Engine, sessions: sessionmaker[Session], secrets: InstanceSecrets
) -> None:
    with sessions.begin() as s:
        fill(s, 3)
    with pytest.raises(IntegrityError, match="no signed checkpoint at all"):
        verify_ahead(engine, public_key=secrets.verify_key, bound=BOUND, purpose="the pack")
