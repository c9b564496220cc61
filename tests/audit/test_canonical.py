"""The canonical encoding: compact people, stable fields, JSON the standard library rebuilds."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vigie.audit import canonical

ids = st.lists(st.integers(0, 2**40), max_size=200)
text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=40)


@given(ids)
def test_subjects_round_trip_sorted_and_unique(values: list[int]) -> None:
    encoded = canonical.encode_subjects(values)
    assert canonical.decode_subjects(encoded) == sorted(set(values))


def test_subjects_are_compact() -> None:
    page = list(range(1_000_000, 1_000_100))
    assert len(canonical.encode_subjects(page)) == 3 + 99  # first id, then gaps of 1


def test_cut_varint_is_refused() -> None:
    with pytest.raises(ValueError, match="truncated"):
        canonical.decode_subjects(b"\x81")


@given(
    seq=st.integers(1, 2**62),
    at=st.integers(0, 2**62),
    strings=st.lists(st.none() | text, min_size=4, max_size=4),
    pid=st.none() | st.integers(0, 2**31),
    subjects=ids,
    detail=st.none()
    | st.dictionaries(text, st.integers(-(2**63), 2**63 - 1) | text | st.booleans(), max_size=4),
)
def test_body_is_what_json_dumps_writes(
    seq: int,
    at: int,
    strings: list[str | None],
    pid: int | None,
    subjects: list[int],
    detail: dict[str, object] | None,
) -> None:
    actor, origin, purpose, outcome = strings
    packed = canonical.encode_subjects(subjects)
    detail_text = canonical.encode_detail(detail)
    row = [1, seq, at, actor or "system:x", pid, pid, origin, "subject:read", purpose,
           "email,name", outcome or "ok", detail_text]  # fmt: skip
    expected = json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode()
    expected += b"\n" + packed
    got = canonical.body(seq, at, actor or "system:x", pid, pid, origin, "subject:read",
                         purpose, packed, "email,name", outcome or "ok", detail_text)  # fmt: skip
    assert got == expected
    if detail:
        assert json.loads(detail_text or "") == detail


def test_fields_are_sorted_and_checked() -> None:
    assert canonical.encode_fields(["name", "email", "name"]) == "email,name"
    assert canonical.encode_fields([]) == ""
    with pytest.raises(ValueError):
        canonical.encode_fields(["a,b"])
    assert canonical.encode_detail({}) is None
