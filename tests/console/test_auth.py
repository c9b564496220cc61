"""The two factors: Argon2id passwords and TOTP codes (pure checks that raise)."""

from __future__ import annotations

import pyotp
import pytest

from vigie.console.auth import (
    SignInRefused,
    hash_password,
    provisioning_uri,
    qr_svg,
    totp_step,
    verify_password,
)
from vigie.errors import InvalidInput

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
AT = 1_780_000_000.0  # a fixed instant
STEP = int(AT // 30)


def test_password_round_trip_and_refusals() -> None:
    stored = hash_password("twelve chars ok")
    assert stored.startswith("$argon2id$")
    verify_password(stored, "twelve chars ok")
    for wrong in ("twelve chars OK", "", "x" * 300):
        with pytest.raises(SignInRefused):
            verify_password(stored, wrong)
    with pytest.raises(SignInRefused):  # no such account: same refusal
        verify_password(None, "twelve chars ok")
    with pytest.raises(InvalidInput):
        hash_password("too short")


def test_totp_accepts_the_current_and_adjacent_steps_once() -> None:
    totp = pyotp.TOTP(SECRET)
    assert totp_step(SECRET, totp.at(AT), at=AT, last_step=None) == STEP
    assert totp_step(SECRET, totp.at(AT - 30), at=AT, last_step=None) == STEP - 1
    assert totp_step(SECRET, totp.at(AT + 30), at=AT, last_step=None) == STEP + 1
    spaced = totp.at(AT)[:3] + " " + totp.at(AT)[3:]
    assert totp_step(SECRET, spaced, at=AT, last_step=None) == STEP


@pytest.mark.parametrize(
    ("code_at", "last_step"),
    [
        (AT - 60, None),  # too old
        (AT + 60, None),  # too far ahead
        (AT, STEP),  # already used: no replay
        (AT - 30, STEP),  # older than the last used
    ],
)
def test_totp_refuses(code_at: float, last_step: int | None) -> None:
    with pytest.raises(SignInRefused):
        totp_step(SECRET, pyotp.TOTP(SECRET).at(code_at), at=AT, last_step=last_step)


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "12345x"])
def test_totp_refuses_malformed_codes(code: str) -> None:
    with pytest.raises(SignInRefused):
        totp_step(SECRET, code, at=AT, last_step=None)


def test_enrolment_qr_is_inline_svg_of_the_uri() -> None:
    uri = provisioning_uri(SECRET, login="claire")
    assert uri.startswith("otpauth://totp/Vigie:claire?secret=" + SECRET)
    svg = qr_svg(uri)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "<script" not in svg and "style=" not in svg and "href" not in svg
