"""The two factors of an operator: an Argon2id password and a TOTP code (RFC 6238).

Pure checks that raise :class:`SignInRefused` and return nothing on success, in the
manner of the rest of Vigie's security logic. The refusal never says which factor or
whether the login exists: the page shows one message for all.
"""

from __future__ import annotations

import secrets as _random
from dataclasses import dataclass
from functools import cache

import pyotp
import segno
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from vigie.errors import InvalidInput, Unauthenticated
from vigie.settings import Settings

MIN_PASSWORD = 12
MAX_PASSWORD = 256
ISSUER = "Vigie"


@dataclass(frozen=True)
class PasswordCost:
    """Argon2id's parameters for new passwords (``VIGIE_CONSOLE_PASSWORD_*``).

    The defaults are argon2-cffi's, RFC 9106's low-memory profile; a stored hash carries
    its own parameters, so a change applies to passwords set afterwards.
    """

    time_cost: int = 3
    memory_kib: int = 65_536
    parallelism: int = 4

    @classmethod
    def of(cls, settings: Settings) -> PasswordCost:
        return cls(
            time_cost=settings.console_password_time_cost,
            memory_kib=settings.console_password_memory_kib,
            parallelism=settings.console_password_parallelism,
        )


@cache
def _hasher(cost: PasswordCost) -> PasswordHasher:
    return PasswordHasher(
        time_cost=cost.time_cost, memory_cost=cost.memory_kib, parallelism=cost.parallelism
    )


@cache
def _decoy(cost: PasswordCost) -> str:
    """A hash of nothing anyone knows, at ``cost``, checked when the login is unknown, so
    that an unknown login costs the same time as a wrong password."""
    return _hasher(cost).hash(_random.token_urlsafe(32))


class SignInRefused(Unauthenticated):
    """A sign-in step failed (wrong or unknown login, wrong password or code, disabled)."""


def check_new_password(password: str) -> None:
    """Raise :class:`InvalidInput` unless ``password`` is acceptable as a new password."""
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"the password must have at most {MAX_PASSWORD} characters")


def hash_password(password: str, *, cost: PasswordCost) -> str:
    """The Argon2id hash of a new password (checked first), at ``cost``."""
    check_new_password(password)
    return _hasher(cost).hash(password)


def verify_password(stored: str | None, password: str, *, cost: PasswordCost) -> None:
    """Raise :class:`SignInRefused` unless ``password`` matches ``stored`` (None: no account,
    checked against a decoy hashed at ``cost``, the cost of the instance's passwords)."""
    if len(password) > MAX_PASSWORD:
        raise SignInRefused("sign-in refused")
    try:
        _hasher(cost).verify(stored or _decoy(cost), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        raise SignInRefused("sign-in refused") from None
    if stored is None:
        raise SignInRefused("sign-in refused")


def new_totp_secret() -> str:
    """A fresh TOTP secret (base32, 160 bits)."""
    return pyotp.random_base32(32)


def totp_step(secret: str, code: str, *, at: float, last_step: int | None) -> int:
    """The time step ``code`` belongs to, if valid at ``at`` (±1 step) and not yet used.

    Raise :class:`SignInRefused` otherwise. The caller stores the step returned so that
    the same code cannot be replayed.
    """
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        raise SignInRefused("sign-in refused")
    totp = pyotp.TOTP(secret)
    current = int(at // totp.interval)
    for step in (current - 1, current, current + 1):
        if _random.compare_digest(totp.generate_otp(step), code):
            if last_step is not None and step <= last_step:
                break
            return step
    raise SignInRefused("sign-in refused")


def provisioning_uri(secret: str, *, login: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads from the enrolment QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=login, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The QR code of ``uri`` as an inline SVG element (built here, no script, no request)."""
    svg: str = segno.make(uri, error="m").svg_inline(scale=5, dark="#000", light="#fff")
    return svg
