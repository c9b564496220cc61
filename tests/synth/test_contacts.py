"""File numbers and phone numbers: the forms the registry and the dumps rely on."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from vigie.synth.contacts import _MOBILE_PREFIXES, phone_numbers, refs_of

IDS = st.lists(st.integers(1, 50_000_000), min_size=1, max_size=200)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for k, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if k % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


@given(IDS)
def test_a_file_number_is_the_id_with_a_luhn_check_digit(ids: list[int]) -> None:
    refs = refs_of(np.array(ids, np.int64))
    for sid, ref in zip(ids, refs, strict=True):
        assert ref.startswith("CIR") and len(ref) == 12
        assert int(ref[3:11]) == sid and _luhn_ok(ref[3:])


@given(IDS)
def test_a_phone_number_is_a_metropolitan_mobile_in_e164(ids: list[int]) -> None:
    phones = phone_numbers(np.array(ids, np.int64))
    prefixes = {str(p) for p in _MOBILE_PREFIXES.tolist()}
    for phone in phones:
        assert phone.startswith("+33") and len(phone) == 12 and phone[3:].isdigit()
        assert phone[3:6] in prefixes
    assert len(set(phones)) == len(set(ids))
