"""Keys: shown once, stored as a hash, and every refusal of ``authenticate``."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from vigie.audit.models import AuditEvent
from vigie.errors import Denied, InvalidInput, NotFound, Unauthenticated
from vigie.processors.keys import (
    authenticate,
    ip_allowed,
    issue_key,
    list_keys,
    parse_duration,
    revoke_key,
)
from vigie.processors.models import ApiKey
from vigie.processors.status import reinstate_processor, suspend_key, suspend_processor

ACTOR = "operator:test"

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_issue_and_authenticate(applied: sessionmaker[Session]) -> None:
    with applied.begin() as s:
        issued = issue_key(s, processor="lingua-test", actor=ACTOR, now=NOW)
    assert issued.token.startswith(f"vgk_{issued.prefix}_")
    assert issued.token not in repr(issued)
    secret = issued.token.split("_", 2)[2]
    assert len(secret) == 43  # 256 bits, URL-safe base64
    with applied.begin() as s:
        stored = s.get(ApiKey, issued.key_id)
        assert stored is not None
        assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert secret not in {stored.prefix, stored.secret_hash, stored.note}
        ctx = authenticate(s, token=issued.token, client_ip="192.0.2.1", now=NOW)
        assert ctx.processor.name == "lingua-test" and ctx.key.id == issued.key_id
        assert ctx.actor == f"processor:lingua-test/key:{issued.key_id}"
        events = s.scalars(select(AuditEvent.action).where(AuditEvent.key_id == issued.key_id))
        assert list(events) == ["key:issue"]


MALFORMED = [
    None,
    "",
    "Bearer x",
    "vgk_zz_short",
    "vgk_0123456789ab_" + "A" * 42,
    "vgk_0123456789ab_" + "A" * 43 + "\n",
    "vgk_0123456789ab_" + "A" * 43,  # well-formed, unknown prefix
    "' OR 1=1 --",
    "vgk_0123456789AB_" + "A" * 43,
    "vgk_٠١٢٣٤٥٦٧٨٩ab_" + "A" * 43,  # Arabic-Indic digits
]


def test_malformed_or_unknown_keys_are_unauthenticated(applied: sessionmaker[Session]) -> None:
    with applied.begin() as s:
        for token in MALFORMED:
            with pytest.raises(Unauthenticated):
                authenticate(s, token=token, client_ip=None, now=NOW)


def test_wrong_secret_with_a_real_prefix(applied: sessionmaker[Session]) -> None:
    with applied.begin() as s:
        issued = issue_key(s, processor="lingua-test", actor=ACTOR, now=NOW)
        forged = f"vgk_{issued.prefix}_" + "A" * 43
        with pytest.raises(Unauthenticated):
            authenticate(s, token=forged, client_ip=None, now=NOW)


def test_expiry(applied: sessionmaker[Session]) -> None:
    with applied.begin() as s:
        issued = issue_key(
            s, processor="lingua-test", actor=ACTOR, expires_in=timedelta(days=1), now=NOW
        )
        authenticate(s, token=issued.token, client_ip=None, now=NOW + timedelta(hours=23))
        with pytest.raises(Denied, match="expired"):
            authenticate(s, token=issued.token, client_ip=None, now=NOW + timedelta(days=1))


def test_ip_allow_list(applied: sessionmaker[Session]) -> None:
    with applied.begin() as s:
        issued = issue_key(
            s,
            processor="lingua-test",
            actor=ACTOR,
            allowed_cidrs=["192.0.2.0/24", "2001:db8::1"],
            now=NOW,
        )
        assert issued.allowed_cidrs == ("192.0.2.0/24", "2001:db8::1/128")
        for ok in ("192.0.2.7", "::ffff:192.0.2.9", "2001:db8::1"):
            authenticate(s, token=issued.token, client_ip=ok, now=NOW)
        for bad in ("198.51.100.1", None, "not-an-ip", "2001:db8::2"):
            with pytest.raises(Denied, match="address"):
                authenticate(s, token=issued.token, client_ip=bad, now=NOW)


def test_revoked_and_suspended(applied: sessionmaker[Session]) -> None:
    with applied.begin() as s:
        a = issue_key(s, processor="lingua-test", actor=ACTOR, now=NOW)
        b = issue_key(s, processor="lingua-test", actor=ACTOR, now=NOW)
    with applied.begin() as s:
        revoke_key(s, key_id=a.key_id, actor=ACTOR)
        with pytest.raises(InvalidInput, match="already revoked"):
            revoke_key(s, key_id=a.key_id, actor=ACTOR)
        with pytest.raises(NotFound):
            revoke_key(s, key_id=9999, actor=ACTOR)
        with pytest.raises(Denied, match="revoked"):
            authenticate(s, token=a.token, client_ip=None, now=NOW)
        assert suspend_key(s, key_id=b.key_id, reason="bulk reads", actor="system:detection")
        assert not suspend_key(s, key_id=b.key_id, reason="again", actor="system:detection")
        with pytest.raises(Denied, match="suspended"):
            authenticate(s, token=b.token, client_ip=None, now=NOW)
        statuses = {k.id: k.status for k in list_keys(s, now=NOW, processor="lingua-test")}
        assert statuses == {a.key_id: "revoked", b.key_id: "suspended"}


def test_suspended_processor_denies_every_key(applied: sessionmaker[Session]) -> None:
    with applied.begin() as s:
        issued = issue_key(s, processor="lingua-test", actor=ACTOR, now=NOW)
        assert suspend_processor(s, name="lingua-test", reason="investigation", actor=ACTOR)
        with pytest.raises(Denied, match="processor is suspended"):
            authenticate(s, token=issued.token, client_ip=None, now=NOW)
        fresh = issue_key(s, processor="lingua-test", actor=ACTOR, now=NOW)  # ready for later
        with pytest.raises(Denied, match="processor is suspended"):
            authenticate(s, token=fresh.token, client_ip=None, now=NOW)
        with pytest.raises(InvalidInput, match="reason"):
            reinstate_processor(s, name="lingua-test", reason="  ", actor=ACTOR)
        reinstate_processor(s, name="lingua-test", reason="keys rotated", actor=ACTOR)
        authenticate(s, token=issued.token, client_ip=None, now=NOW)
        authenticate(s, token=fresh.token, client_ip=None, now=NOW)
        with pytest.raises(InvalidInput, match="not suspended"):
            reinstate_processor(s, name="lingua-test", reason="again", actor=ACTOR)
        actions = list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))
        assert actions[-3:] == ["processor:suspend", "key:issue", "processor:reinstate"]


def test_issue_refuses_unknown_processor_and_bad_input(applied: sessionmaker[Session]) -> None:
    with applied.begin() as s:
        with pytest.raises(NotFound):
            issue_key(s, processor="nobody", actor=ACTOR)
        with pytest.raises(InvalidInput, match="CIDR"):
            issue_key(s, processor="lingua-test", actor=ACTOR, allowed_cidrs=["10.0.0.0/33"])
        with pytest.raises(InvalidInput, match="note"):
            issue_key(s, processor="lingua-test", actor=ACTOR, note="x" * 201)
        with pytest.raises(InvalidInput, match="future"):
            issue_key(s, processor="lingua-test", actor=ACTOR, expires_in=timedelta(0))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", timedelta(days=30)),
        ("12h", timedelta(hours=12)),
        ("2w", timedelta(weeks=2)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("90m", timedelta(minutes=90)),
        (" 45S ", timedelta(seconds=45)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "30", "d", "3 days", "0d", "-1d", "1y"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_duration(text)


def test_ip_allowed_without_a_list() -> None:
    assert ip_allowed(None, [])
    assert ip_allowed("203.0.113.5", [])


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.one_of(
        st.text(max_size=80),
        st.from_regex(r"vgk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", fullmatch=True),
    )
)
def test_no_guessed_token_authenticates(applied: sessionmaker[Session], token: str) -> None:
    with applied.begin() as s:
        issue_key(s, processor="lingua-test", actor=ACTOR, now=NOW)
        with pytest.raises(Unauthenticated):
            authenticate(s, token=token, client_ip=None, now=NOW)
        s.rollback()
