"""The two factors of an operator: an Argon2id password and a TOTP code (RFC 6238).

Pure checks that raise :class:`SignInRefused` and return nothing on success, in the
manner of the rest of Vigie's security logic. The refusal never says which factor or
whether the login exists: the page shows one message for all.
"""

from __future__ import annotations

import secrets as _random

import pyotp
import segno
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from vigie.errors import InvalidInput, Unauthenticated

MIN_PASSWORD = 12
MAX_PASSWORD = 256
ISSUER = "Vigie"
_hasher = PasswordHasher()  # argon2-cffi's defaults: Argon2id, RFC 9106 low-memory profile
# A hash of nothing anyone knows, checked when the login is unknown, so that an unknown
# login costs the same time as a wrong password.
_DECOY = _hasher.hash(_random.token_urlsafe(32))


class SignInRefused(Unauthenticated):
    """A sign-in step failed (wrong or unknown login, wrong password or code, disabled)."""


def check_new_password(password: str) -> None:
    """Raise :class:`InvalidInput` unless ``password`` is acceptable as a new password."""
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"the password must have at most {MAX_PASSWORD} characters")


def hash_password(password: str) -> str:
    """The Argon2id hash of a new password (checked first)."""
    check_new_password(password)
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> None:
    """Raise :class:`SignInRefused` unless ``password`` matches ``stored`` (None: no account)."""
    if len(password) > MAX_PASSWORD:
        raise SignInRefused("sign-in refused")
    try:
        _hasher.verify(stored or _DECOY, password)
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
