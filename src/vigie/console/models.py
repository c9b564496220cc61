"""Tables of vigie.console: the operators, their security keys and their sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from vigie.store.base import Base, UTCDateTime


class Operator(Base):
    """A member of the controller's staff who signs in to the console.

    ``role`` is ``dpo``, ``security`` or ``auditor`` (:mod:`vigie.console.roles`). The
    password is kept as an Argon2id hash; ``totp_secret`` is set at enrolment, and the
    second factor is in force once ``totp_enrolled_at`` is set (a sign-in before that
    must enrol first). A disabled operator cannot sign in and loses every session.
    """

    __tablename__ = "console_operators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    totp_last_step: Mapped[int | None] = mapped_column(Integer)  # no code used twice
    language: Mapped[str] = mapped_column(String(8), default="fr")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OperatorSession(Base):
    """One signed-in browser: the cookie carries ``token`` (signed); the row is the truth.

    ``stage`` is ``password`` (the password was right; the second factor is due) or
    ``full``. ``challenge`` is the WebAuthn challenge last handed to this browser (used
    once, then cleared). ``csrf`` is the session's anti-forgery token, asked of every state change.
    A session is over when revoked (sign-out, operator disabled), idle past
    ``console_session_idle_minutes`` or older than ``console_session_absolute_hours``.
    """

    __tablename__ = "console_sessions"
    __table_args__ = (Index("ix_console_sessions_operator", "operator_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 hex
    operator_id: Mapped[int] = mapped_column(ForeignKey("console_operators.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(8))
    csrf: Mapped[str] = mapped_column(String(64))
    challenge: Mapped[str | None] = mapped_column(String(128))  # WebAuthn, base64url, one use
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SecurityKey(Base):
    """A WebAuthn credential (security key or passkey) of an operator: a second factor.

    ``credential_id`` is the authenticator's id for it (base64url), ``public_key`` its
    COSE public key; ``sign_count`` is the last signature counter seen (a counter that
    goes backwards means a cloned key: refused).
    """

    __tablename__ = "console_security_keys"
    __table_args__ = (Index("ix_console_security_keys_operator", "operator_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("console_operators.id", ondelete="CASCADE"))
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
