"""The two factors: Argon2id passwords and TOTP codes (pure checks that raise)."""

from __future__ import annotations

from pathlib import Path

import pyotp
import pytest
from pydantic import ValidationError

from vigie.console import auth
from vigie.console.auth import (
    PasswordCost,
    SignInRefused,
    hash_password,
    provisioning_uri,
    qr_svg,
    totp_step,
    verify_password,
)
from vigie.errors import InvalidInput
from vigie.settings import Settings

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
AT = 1_780_000_000.0  # a fixed instant
STEP = int(AT // 30)


def test_password_round_trip_and_refusals_at_the_production_cost() -> None:
    cost = PasswordCost.of(Settings())
    assert cost == PasswordCost()  # the defaults: RFC 9106's low-memory profile
    stored = hash_password("twelve chars ok", cost=cost)
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    verify_password(stored, "twelve chars ok", cost=cost)
    for wrong in ("twelve chars OK", "", "x" * 300):
        with pytest.raises(SignInRefused):
            verify_password(stored, wrong, cost=cost)
    with pytest.raises(SignInRefused):  # no such account: same refusal
        verify_password(None, "twelve chars ok", cost=cost)
    with pytest.raises(InvalidInput):
        hash_password("too short", cost=cost)


def test_the_cost_comes_from_the_settings_and_the_decoy_costs_the_same() -> None:
    settings = Settings(
        console_password_time_cost=2, console_password_memory_kib=64, console_password_parallelism=2
    )
    cost = PasswordCost.of(settings)
    stored = hash_password("twelve chars ok", cost=cost)
    assert stored.startswith("$argon2id$v=19$m=64,t=2,p=2$")
    verify_password(stored, "twelve chars ok", cost=cost)
    # An unknown login is checked against a decoy of the same cost (no timing oracle).
    with pytest.raises(SignInRefused):
        verify_password(None, "twelve chars ok", cost=cost)
    assert auth._decoy(cost).startswith("$argon2id$v=19$m=64,t=2,p=2$")


def test_production_refuses_a_weak_password_cost(tmp_path: Path) -> None:
    strong = {"environment": "production", "data_dir": tmp_path}
    assert PasswordCost.of(Settings(**strong)) == PasswordCost()  # type: ignore[arg-type]
    for weak in ({"console_password_time_cost": 1}, {"console_password_memory_kib": 19_455}):
        Settings(data_dir=tmp_path, **weak)  # type: ignore[arg-type]  # development: allowed
        with pytest.raises(ValidationError, match="Argon2id"):
            Settings(**strong, **weak)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="8 KiB per lane"):
        Settings(console_password_memory_kib=8, console_password_parallelism=2)


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
