"""Server-side sessions of the console, referenced by a signed cookie.

The cookie holds a random token and its HMAC (key derived from the instance secret): a
forged or altered cookie is rejected before any database look-up. The row
(:class:`~vigie.console.models.OperatorSession`) is the truth: it is found by the
token's SHA-256 (the token itself is never stored), and it is over when revoked, idle
for longer than the idle limit, or older than the absolute limit. Signing in again after
the second factor gives a new token (no session fixation).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets as _random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.orm import Session

from vigie.console.models import Operator, OperatorSession
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings

COOKIE = "vigie_console"
PASSWORD_STAGE = "password"  # noqa: S105 - a stage of sign-in, not a password
FULL_STAGE = "full"


@dataclass(frozen=True)
class SessionPolicy:
    """How long a session lives: unused (``idle``) and at most (``absolute``)."""

    idle: timedelta
    absolute: timedelta

    @classmethod
    def of(cls, settings: Settings) -> SessionPolicy:
        return cls(
            idle=timedelta(minutes=settings.console_session_idle_minutes),
            absolute=timedelta(hours=settings.console_session_absolute_hours),
        )

    def alive(self, row: OperatorSession, now: datetime) -> bool:
        """Whether ``row`` is still a valid session at ``now``."""
        return (
            row.revoked_at is None
            and now - row.last_seen_at < self.idle
            and now - row.created_at < self.absolute
        )


class CookieSigner:
    """Signs session tokens for the cookie, and checks them (one key per ``purpose``)."""

    def __init__(
        self,
        secrets: InstanceSecrets,
        *,
        purpose: str = "console-session-cookie",
        max_length: int = 200,
    ) -> None:
        self._key = secrets.derive(purpose)
        self._max_length = max_length

    def _mac(self, token: str) -> str:
        digest = hmac.new(self._key, token.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def sign(self, token: str) -> str:
        return f"{token}.{self._mac(token)}"

    def unsign(self, value: str | None) -> str | None:
        """The token in cookie ``value``, or None if it is missing or not ours."""
        if not value or value.count(".") != 1 or len(value) > self._max_length:
            return None
        token, mac = value.split(".")
        return token if hmac.compare_digest(mac, self._mac(token)) else None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(
    session: Session, *, operator: Operator, stage: str, now: datetime
) -> tuple[str, OperatorSession]:
    """A new session of ``operator`` at ``stage``; returns its token (for the cookie)."""
    token = _random.token_urlsafe(32)
    row = OperatorSession(
        token_hash=_hash(token),
        operator_id=operator.id,
        stage=stage,
        csrf=_random.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
    )
    session.add(row)
    session.flush()
    return token, row


def find_session(
    session: Session, *, token: str | None, policy: SessionPolicy, now: datetime
) -> tuple[OperatorSession, Operator] | None:
    """The live session of ``token`` and its operator (last use set to ``now``), or None."""
    if token is None:
        return None
    found = session.execute(
        select(OperatorSession, Operator)
        .join(Operator, Operator.id == OperatorSession.operator_id)
        .where(OperatorSession.token_hash == _hash(token))
    ).one_or_none()
    if found is None:
        return None
    row, operator = found
    if not policy.alive(row, now) or operator.disabled_at is not None:
        return None
    row.last_seen_at = now
    return row, operator


def purge_sessions(session: Session, *, policy: SessionPolicy, now: datetime) -> int:
    """Delete the rows of sessions that are over (revoked, idle or too old); their count.

    Called at each sign-in, so the table holds live sessions and a few dead ones at most.
    """
    done = session.execute(
        delete(OperatorSession).where(
            OperatorSession.revoked_at.is_not(None)
            | (OperatorSession.last_seen_at <= now - policy.idle)
            | (OperatorSession.created_at <= now - policy.absolute)
        )
    )
    return int(cast("CursorResult[Any]", done).rowcount or 0)


def revoke(row: OperatorSession, *, now: datetime) -> None:
    """End ``row`` (sign-out, or replaced by a fuller session)."""
    row.revoked_at = now
