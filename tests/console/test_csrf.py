"""Every state change asks the session's anti-forgery token, and refuses other sites."""

from __future__ import annotations

import pytest

from tests.console.conftest import Desk
from vigie.processors.directory import get_processor

SUSPEND = "/processors/formalang/suspend"


@pytest.fixture
def signed_in(desk: Desk):  # type: ignore[no-untyped-def]
    desk.world.processor("formalang")
    desk.operator("alice", "security")
    return desk.sign_in("alice")


def _suspended(desk: Desk) -> bool:
    with desk.world.sessions() as s:
        return get_processor(s, name="formalang").suspended_at is not None


@pytest.mark.parametrize(
    ("data", "headers"),
    [
        ({"reason": "test"}, {}),  # no token
        ({"reason": "test", "csrf": "forged"}, {}),
        ({"reason": "test"}, {"X-CSRF-Token": "forged"}),
    ],
)
def test_a_state_change_without_the_token_is_refused(
    desk: Desk, signed_in, data: dict[str, str], headers: dict[str, str]
) -> None:
    r = signed_in.post(SUSPEND, data=data, headers=headers)
    assert r.status_code == 403
    assert not _suspended(desk)


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://evil.example"},
    ],
)
def test_a_state_change_from_another_site_is_refused_even_with_the_token(
    desk: Desk, signed_in, headers: dict[str, str]
) -> None:
    token = desk.csrf(signed_in)
    r = signed_in.post(SUSPEND, data={"reason": "test", "csrf": token}, headers=headers)
    assert r.status_code == 403
    assert not _suspended(desk)


def test_the_form_field_or_the_htmx_header_carries_the_token(desk: Desk, signed_in) -> None:
    token = desk.csrf(signed_in)
    r = signed_in.post(
        SUSPEND,
        data={"reason": "test"},
        headers={"X-CSRF-Token": token, "Sec-Fetch-Site": "same-origin"},
    )
    assert r.status_code == 303 and _suspended(desk)
    r = signed_in.post(
        "/processors/formalang/reinstate",
        data={"reason": "checked", "csrf": token},
        headers={"Origin": "http://console.test"},
    )
    assert r.status_code == 303 and not _suspended(desk)


def test_sign_out_needs_the_token_too(desk: Desk, signed_in) -> None:
    assert signed_in.post("/logout").status_code == 403
    assert signed_in.get("/").status_code == 200  # still signed in


def test_sign_in_from_another_site_is_refused(desk: Desk) -> None:
    desk.operator("alice", "dpo")
    r = desk.client().post(
        "/login",
        data={"login": "alice", "password": "whatever it is"},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert r.status_code == 403
