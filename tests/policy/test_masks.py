"""Masks show what their name says and never more (table-driven and Hypothesis)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vigie.policy.masks import MASK_FIELDS, MASKS, check_mask

CASES = [
    ("year", date(1987, 3, 14), 1987),
    ("year", "1987-03-14", 1987),
    ("month", date(1987, 3, 14), "1987-03"),
    ("month", date(2001, 11, 2), "2001-11"),
    ("initials", "Jean-Luc", "J.-L."),
    ("initials", "marie claire", "M.C."),
    ("initials", "Élodie", "É."),
    ("initials", "  ", ""),
    ("last4", "+33612345678", "5678"),
    ("last4", "123", "123"),
    ("department", "75011", "75"),
    ("department", "97110", "971"),
    ("department", "20000", "20"),
    ("domain", "Amina.B@Mail.Example", "mail.example"),
    ("domain", "no-at-sign", None),
    ("domain", "trailing@", None),
]


@pytest.mark.parametrize(("mask", "value", "expected"), CASES)
def test_mask_table(mask: str, value: object, expected: object) -> None:
    assert MASKS[mask](value) == expected


@pytest.mark.parametrize("mask", sorted(MASKS))
def test_none_stays_none(mask: str) -> None:
    assert MASKS[mask](None) is None


@pytest.mark.parametrize(
    ("field", "mask", "reason"),
    [
        ("birth_date", "yeer", "unknown mask 'yeer'"),
        ("email", "year", "does not apply to 'email'"),
        ("postal_code", "initials", "does not apply"),
    ],
)
def test_check_mask_refuses(field: str, mask: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_mask(field, mask)


def test_every_mask_applies_somewhere() -> None:
    assert set(MASK_FIELDS) == set(MASKS)
    for mask, fields in MASK_FIELDS.items():
        for field in fields:
            check_mask(field, mask)


@given(st.dates())
def test_date_masks_depend_only_on_year_or_month(d: date) -> None:
    assert MASKS["year"](d) == MASKS["year"](d.replace(month=1, day=1))
    assert MASKS["month"](d) == MASKS["month"](d.replace(day=1))


@given(st.text(min_size=1, max_size=30))
def test_initials_reveal_only_first_letters(name: str) -> None:
    out = MASKS["initials"](name)
    assert out is not None
    # Changing anything but each part's first letter does not change the output.
    changed = " ".join(
        "-".join(p[0] + "x" * (len(p) - 1) for p in w.split("-") if p) for w in name.split()
    )
    assert MASKS["initials"](changed) == out


@given(st.text(max_size=30), st.text(min_size=4, max_size=4))
def test_last4_reveals_only_the_tail(head: str, tail: str) -> None:
    assert MASKS["last4"](head + tail) == tail


@given(st.from_regex(r"[0-9]{5}", fullmatch=True))
def test_department_is_a_short_prefix(code: str) -> None:
    out = MASKS["department"](code)
    assert code.startswith(out) and len(out) in (2, 3)


@given(
    st.from_regex(r"[a-z0-9.]{1,20}", fullmatch=True),
    st.from_regex(r"[a-z]{1,10}\.example", fullmatch=True),
)
def test_domain_never_shows_the_local_part(local: str, host: str) -> None:
    assert MASKS["domain"](f"{local}@{host}") == host


def test_every_mask_and_write_field_is_documented() -> None:
    from pathlib import Path

    from vigie.policy.writeback import WRITE_FIELDS

    doc = (Path(__file__).resolve().parents[2] / "docs" / "processors.md").read_text()
    for name in [*MASKS, *WRITE_FIELDS]:
        assert f"| `{name}` |" in doc, f"{name} is not in docs/processors.md"
