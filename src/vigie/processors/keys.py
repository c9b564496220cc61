"""API keys: issued once, stored as a hash, checked on every request.

A key reads ``vgk_<prefix>_<secret>``: ``prefix`` (12 hex characters) is public and
finds the key with one indexed lookup; ``secret`` (256 random bits, URL-safe base64) is
stored only as its SHA-256 and compared in constant time. The full key is shown once,
when it is issued; nobody, the operator included, can show it again.

:func:`check_key` judges a key on every gateway request (the gateway reads the key with
its contracts in one statement, :mod:`vigie.gateway.caller`) and in :func:`authenticate`;
it answers in this order:

- :class:`~vigie.errors.Unauthenticated`: no key, a malformed key, an unknown prefix or
  a wrong secret (all look the same to the caller);
- :class:`~vigie.errors.Denied`: the key is revoked, expired or suspended, its processor
  is suspended, or the client address is outside the key's allow-list.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import CursorResult, bindparam, select, update
from sqlalchemy.orm import Session

from vigie.audit import trail
from vigie.audit.actions import Action
from vigie.errors import Denied, InvalidInput, NotFound, Unauthenticated
from vigie.processors.directory import get_processor
from vigie.processors.models import ApiKey, Processor
from vigie.store.base import utcnow

KEY_SCHEME = "vgk"
PREFIX_BYTES = 6  # 12 hex characters
SECRET_BYTES = 32  # 256 bits
MAX_NOTE = 200  # the length of api_keys.note
_TOKEN = re.compile(r"vgk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
_DURATION = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# Built once: this runs on every request, where building the statement would cost more
# than the indexed lookup itself.
_BY_PREFIX = (
    select(ApiKey, Processor)
    .join(Processor, Processor.id == ApiKey.processor_id)
    .where(ApiKey.prefix == bindparam("prefix"))
)


@dataclass(frozen=True)
class IssuedKey:
    """A newly issued key. ``token`` is the only copy of the secret: show it once."""

    key_id: int
    processor: str
    prefix: str
    expires_at: datetime | None
    allowed_cidrs: tuple[str, ...]
    token: str = field(repr=False)


@dataclass(frozen=True)
class AuthContext:
    """Who is calling: the processor and the key, both checked usable."""

    processor: Processor
    key: ApiKey

    @property
    def actor(self) -> str:
        """The audit actor string, ``processor:<name>/key:<id>``."""
        return f"processor:{self.processor.name}/key:{self.key.id}"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def parse_duration(text: str) -> timedelta:
    """``"30d"``, ``"12h"``, ``"2w"``, ``"1d12h"``… as a timedelta (s, m, h, d, w)."""
    cleaned = text.strip().lower()
    parts = _DURATION.findall(cleaned)
    if not parts or _DURATION.sub("", cleaned).strip():
        raise InvalidInput(f"bad duration {text!r}: use e.g. 30d, 12h, 2w, 90m")
    total = timedelta()
    for amount, unit in parts:
        total += timedelta(**{_UNITS[unit]: int(amount)})
    if total <= timedelta(0):
        raise InvalidInput(f"bad duration {text!r}: must be positive")
    return total


def normalise_cidrs(cidrs: Sequence[str]) -> tuple[str, ...]:
    """Each CIDR (or single address) in canonical form; :class:`InvalidInput` if bad."""
    out = []
    for text in cidrs:
        try:
            out.append(str(ipaddress.ip_network(text.strip(), strict=False)))
        except ValueError:
            raise InvalidInput(f"bad address or CIDR {text!r}") from None
    return tuple(dict.fromkeys(out))


@lru_cache(maxsize=1024)
def _networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def ip_allowed(client_ip: str | None, cidrs: Sequence[str]) -> bool:
    """Whether ``client_ip`` is inside one of ``cidrs`` (an empty list allows every address)."""
    if not cidrs:
        return True
    if not client_ip:
        return False
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in net for net in _networks(tuple(cidrs)))


def issue_key(
    session: Session,
    *,
    processor: str,
    actor: str,
    expires_in: timedelta | None = None,
    allowed_cidrs: Sequence[str] = (),
    note: str | None = None,
    now: datetime | None = None,
) -> IssuedKey:
    """Issue a key to ``processor``; the returned token is the only copy (audited)."""
    owner = get_processor(session, name=processor)
    if owner.new_keys_refused:
        raise Denied(f"no new key for processor {processor!r}: {owner.new_keys_refused}")
    if expires_in is not None and expires_in <= timedelta(0):
        raise InvalidInput("expiry must be in the future")
    cidrs = normalise_cidrs(allowed_cidrs)
    if note is not None and (len(note) > MAX_NOTE or not note.isprintable()):
        raise InvalidInput(f"the note must be printable and at most {MAX_NOTE} characters")
    now = now or utcnow()
    prefix = secrets.token_hex(PREFIX_BYTES)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    key = ApiKey(
        processor_id=owner.id,
        prefix=prefix,
        secret_hash=_hash(secret),
        created_at=now,
        expires_at=now + expires_in if expires_in is not None else None,
        allowed_cidrs=list(cidrs),
        note=note,
    )
    session.add(key)
    session.flush()
    trail.append(
        session,
        action=Action.KEY_ISSUE,
        actor=actor,
        processor_id=owner.id,
        key_id=key.id,
        detail={"expires": key.expires_at is not None, "cidrs": len(cidrs)},
    )
    return IssuedKey(
        key_id=key.id,
        processor=owner.name,
        prefix=prefix,
        expires_at=key.expires_at,
        allowed_cidrs=cidrs,
        token=f"{KEY_SCHEME}_{prefix}_{secret}",
    )


@dataclass(frozen=True)
class KeyState:
    """A key and its processor as authentication checks them: plain values, no ORM.

    The gateway reads these with its own statement (joined to the contracts in force);
    :func:`authenticate` builds them from the models. Both then call :func:`check_key`.
    """

    key_id: int
    processor_id: int
    processor_name: str
    secret_hash: str
    expires_at: datetime | None
    revoked: bool
    suspended: bool
    processor_suspended: bool
    allowed_cidrs: tuple[str, ...]

    @property
    def actor(self) -> str:
        """The audit actor string, ``processor:<name>/key:<id>``."""
        return f"processor:{self.processor_name}/key:{self.key_id}"


def split_token(token: str | None) -> tuple[str, str]:
    """``(prefix, secret)`` of a well-formed key; :class:`Unauthenticated` otherwise."""
    match = _TOKEN.fullmatch(token or "")
    if match is None:
        raise Unauthenticated("missing or malformed API key")
    prefix, secret = match.groups()
    return prefix, secret


def check_key(
    state: KeyState | None, *, secret: str, client_ip: str | None, now: datetime
) -> KeyState:
    """``state`` if it is a usable key whose secret is ``secret``; raise otherwise.

    ``state`` is the key found by the token's prefix (None if none). Refusals come in the
    order of the module docstring; the secret is compared in constant time, against a
    dummy hash for an unknown prefix so that both paths cost the same.
    """
    expected = state.secret_hash if state is not None else "0" * 64
    if not hmac.compare_digest(_hash(secret), expected) or state is None:
        raise Unauthenticated("unknown API key")
    if state.revoked:
        raise Denied("this API key has been revoked")
    if state.expires_at is not None and state.expires_at <= now:
        raise Denied("this API key has expired")
    if state.suspended:
        raise Denied("this API key is suspended; contact the controller")
    if state.processor_suspended:
        raise Denied("this processor is suspended; contact the controller")
    if not ip_allowed(client_ip, state.allowed_cidrs):
        raise Denied("this API key may not be used from this address")
    return state


def authenticate(
    session: Session, *, token: str | None, client_ip: str | None, now: datetime
) -> AuthContext:
    """The caller behind ``token``, or raise (see the module docstring for the order)."""
    prefix, secret = split_token(token)
    row = session.execute(_BY_PREFIX, {"prefix": prefix}).first()
    state = None
    if row is not None:
        key, processor = row
        state = KeyState(
            key_id=key.id,
            processor_id=processor.id,
            processor_name=processor.name,
            secret_hash=key.secret_hash,
            expires_at=key.expires_at,
            revoked=key.revoked_at is not None,
            suspended=key.suspended_at is not None,
            processor_suspended=processor.suspended_at is not None,
            allowed_cidrs=tuple(key.allowed_cidrs or ()),
        )
    check_key(state, secret=secret, client_ip=client_ip, now=now)
    assert row is not None
    return AuthContext(processor=row[1], key=row[0])


def revoke_key(session: Session, *, key_id: int, actor: str, now: datetime | None = None) -> ApiKey:
    """Revoke key ``key_id`` for good (audited); :class:`InvalidInput` if already revoked."""
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"no API key with id {key_id}")
    done = session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
    if not cast("CursorResult[Any]", done).rowcount:  # conditional: atomic under concurrency
        raise InvalidInput(f"API key {key_id} is already revoked")
    trail.append(
        session, action=Action.KEY_REVOKE, actor=actor, processor_id=key.processor_id, key_id=key.id
    )
    return key


@dataclass(frozen=True)
class KeyInfo:
    """One line of ``vigie keys list`` (never the secret, which is not stored)."""

    id: int
    processor: str
    prefix: str
    status: str  # "active", "expired", "revoked", "suspended"
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    allowed_cidrs: list[str]
    note: str | None


def key_status(key: ApiKey, *, now: datetime) -> str:
    """``revoked``, ``suspended``, ``expired`` or ``active``, in that precedence."""
    if key.revoked_at is not None:
        return "revoked"
    if key.suspended_at is not None:
        return "suspended"
    if key.expires_at is not None and key.expires_at <= now:
        return "expired"
    return "active"


def list_keys(session: Session, *, now: datetime, processor: str | None = None) -> list[KeyInfo]:
    """Every key (of ``processor`` if given), oldest first."""
    query = select(ApiKey, Processor.name).join(Processor, Processor.id == ApiKey.processor_id)
    if processor is not None:
        query = query.where(Processor.id == get_processor(session, name=processor).id)
    return [
        KeyInfo(
            id=key.id,
            processor=name,
            prefix=key.prefix,
            status=key_status(key, now=now),
            created_at=key.created_at,
            expires_at=key.expires_at,
            revoked_at=key.revoked_at,
            allowed_cidrs=list(key.allowed_cidrs or ()),
            note=key.note,
        )
        for key, name in session.execute(query.order_by(ApiKey.id))
    ]
