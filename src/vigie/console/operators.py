"""Operators of the console: create, list, disable, reset, set the language; every change
audited.

The CLI (``vigie operators``) and the console's sign-in pages call these. The actor of
each audit event is whoever made the change (``operator:<login>``); the event's detail
holds the login, the role and what was reset, never a password or a secret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from vigie.audit import trail
from vigie.audit.actions import Action
from vigie.console.auth import PasswordCost, hash_password, new_totp_secret
from vigie.console.models import Operator, OperatorSession, SecurityKey
from vigie.console.roles import Role
from vigie.console.security_keys import forget_keys
from vigie.errors import InvalidInput, NotFound
from vigie.store.base import utcnow

LOGIN = re.compile(r"[a-z][a-z0-9._-]{1,63}")
LANGUAGES = ("fr", "en")


@dataclass(frozen=True)
class OperatorSummary:
    """One line of ``vigie operators list``."""

    login: str
    role: str
    language: str
    second_factor: str  # "totp", "security key", "totp, security key" or "to enrol"
    status: str  # "active" or "disabled"
    created_at: datetime


def check_login(login: str) -> str:
    """``login`` if well formed (lower case, 2-64 of a-z 0-9 . _ -, a letter first)."""
    if not LOGIN.fullmatch(login):
        raise InvalidInput(
            "a login is 2 to 64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter"
        )
    return login


def get_operator(session: Session, *, login: str) -> Operator:
    """The operator ``login``; :class:`NotFound` if there is none."""
    found = session.scalar(select(Operator).where(Operator.login == login))
    if found is None:
        raise NotFound(f"no operator {login!r}")
    return found


def add_operator(
    session: Session,
    *,
    login: str,
    role: str,
    password: str,
    actor: str,
    language: str = "fr",
    now: datetime | None = None,
    cost: PasswordCost = PasswordCost(),  # noqa: B008 (frozen)
) -> Operator:
    """Create operator ``login`` (audited), its password hashed at ``cost`` (pass
    ``PasswordCost.of(settings)``). The second factor is enrolled at first sign-in."""
    check_login(login)
    parsed = Role.parse(role)
    check_language(language)
    if session.scalar(select(Operator.id).where(Operator.login == login)) is not None:
        raise InvalidInput(f"operator {login!r} already exists")
    operator = Operator(
        login=login,
        role=parsed.value,
        password_hash=hash_password(password, cost=cost),
        language=language,
        created_at=now or utcnow(),
    )
    session.add(operator)
    session.flush()
    trail.append(
        session,
        action=Action.OPERATOR_CREATE,
        actor=actor,
        detail={"login": login, "role": parsed.value},
    )
    return operator


def factors(operator: Operator, *, keys: int) -> list[str]:
    """The operator's enrolled second factors (``totp``, ``security key``)."""
    return (["totp"] if operator.totp_enrolled_at else []) + (["security key"] if keys else [])


def check_language(language: str) -> str:
    """``language`` if the console speaks it (:data:`LANGUAGES`)."""
    if language not in LANGUAGES:
        raise InvalidInput(f"unknown language {language!r} (one of: {', '.join(LANGUAGES)})")
    return language


def set_language(session: Session, *, login: str, language: str, actor: str) -> None:
    """Set the language of ``login``'s console (audited); pages follow it at once."""
    operator = get_operator(session, login=login)
    operator.language = check_language(language)
    trail.append(
        session,
        action=Action.OPERATOR_LANGUAGE,
        actor=actor,
        detail={"login": login, "language": language},
    )


def list_operators(session: Session) -> list[OperatorSummary]:
    """Every operator, by login."""
    keys: dict[int, int] = {
        operator_id: count
        for operator_id, count in session.execute(
            select(SecurityKey.operator_id, func.count()).group_by(SecurityKey.operator_id)
        )
    }
    return [
        OperatorSummary(
            login=o.login,
            role=o.role,
            language=o.language,
            second_factor=", ".join(factors(o, keys=keys.get(o.id, 0))) or "to enrol",
            status="disabled" if o.disabled_at else "active",
            created_at=o.created_at,
        )
        for o in session.scalars(select(Operator).order_by(Operator.login))
    ]


def end_sessions(session: Session, *, operator_id: int, now: datetime) -> None:
    """Revoke every open console session of the operator."""
    session.execute(
        update(OperatorSession)
        .where(OperatorSession.operator_id == operator_id, OperatorSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def disable_operator(session: Session, *, login: str, actor: str) -> None:
    """Disable ``login`` (audited): no more sign-in, every session ends at once."""
    operator = get_operator(session, login=login)
    if operator.disabled_at is not None:
        raise InvalidInput(f"operator {login!r} is already disabled")
    now = utcnow()
    operator.disabled_at = now
    end_sessions(session, operator_id=operator.id, now=now)
    trail.append(session, action=Action.OPERATOR_DISABLE, actor=actor, detail={"login": login})


def reset_password(
    session: Session,
    *,
    login: str,
    password: str,
    actor: str,
    cost: PasswordCost = PasswordCost(),  # noqa: B008 (frozen)
) -> None:
    """Give ``login`` a new password, hashed at ``cost`` (audited); its sessions end."""
    operator = get_operator(session, login=login)
    operator.password_hash = hash_password(password, cost=cost)
    end_sessions(session, operator_id=operator.id, now=utcnow())
    trail.append(
        session,
        action=Action.OPERATOR_RESET,
        actor=actor,
        detail={"login": login, "what": "password"},
    )


def reset_second_factor(session: Session, *, login: str, actor: str) -> None:
    """Forget ``login``'s TOTP secret and security keys (audited): it enrols again at
    next sign-in."""
    operator = get_operator(session, login=login)
    operator.totp_secret = None
    operator.totp_enrolled_at = None
    operator.totp_last_step = None
    keys = forget_keys(session, operator_id=operator.id)
    end_sessions(session, operator_id=operator.id, now=utcnow())
    trail.append(
        session,
        action=Action.OPERATOR_RESET,
        actor=actor,
        detail={"login": login, "what": "second factor", "security_keys": keys},
    )


def pending_secret(session: Session, *, operator: Operator) -> str:
    """The TOTP secret being enrolled (made on first call, kept until enrolment)."""
    if operator.totp_enrolled_at is not None or session.scalar(
        select(SecurityKey.id).where(SecurityKey.operator_id == operator.id).limit(1)
    ):
        raise InvalidInput("the second factor is already enrolled")
    if operator.totp_secret is None:
        operator.totp_secret = new_totp_secret()
        session.flush()
    return operator.totp_secret


def confirm_enrolment(session: Session, *, operator: Operator, step: int) -> None:
    """Mark the pending TOTP secret enrolled once a code of it was checked (audited)."""
    operator.totp_enrolled_at = utcnow()
    operator.totp_last_step = step
    trail.append(
        session,
        action=Action.OPERATOR_ENROL,
        actor=f"operator:{operator.login}",
        detail={"login": operator.login, "factor": "totp"},
    )
