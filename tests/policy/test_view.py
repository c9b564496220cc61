"""Projection shows only the contract's fields, masked, under the pseudonym; union of contracts."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vigie.errors import NotFound
from vigie.policy.masks import MASK_FIELDS, MASKS
from vigie.policy.view import PSEUDONYM, READABLE_FIELDS, Budget, ContractView, union
from vigie.registry.models import SUBJECT_FIELDS

BUDGET = Budget(per_day=10, per_30_days=100, rate_per_minute=60)
ROW: dict[str, Any] = {
    "id": 41,
    "ref": "OFII-2024-000041",
    "given_name": "Amina",
    "family_name": "Benali-Diallo",
    "given_name_native": None,
    "family_name_native": None,
    "birth_date": date(1990, 6, 15),
    "sex": "F",
    "birth_country": "SEN",
    "nationality": "SEN",
    "preferred_language": "fr",
    "email": "amina.b@mail.example",
    "phone": "+33612345678",
    "address_line": "3 rue des Lilas",
    "postal_code": "69003",
    "city": "Lyon",
    "region": "84",
    "entry_date": date(2023, 9, 1),
    "residence_reason": "family",
    "residence_status": "temporary-card",
    "cir_signed_on": date(2023, 10, 2),
    "course_hours": 200,
    "course_level": "A2",
}


def view(read: set[str], masks: dict[str, str] | None = None, cid: int = 1) -> ContractView:
    return ContractView(
        contract_ids=(cid,),
        read_fields=frozenset(read),
        masks=masks or {},
        write_fields=frozenset(),
        budget=BUDGET,
    )


def test_projection_example() -> None:
    v = view(
        {"pseudonym", "given_name", "birth_date", "postal_code"},
        {"birth_date": "year", "postal_code": "department"},
    )
    assert v.project(ROW, pseudonym="p" * 26) == {
        "pseudonym": "p" * 26,
        "given_name": "Amina",
        "birth_date": 1990,
        "postal_code": "69",
    }


def test_ref_and_internal_id_only_when_listed() -> None:
    out = view({"given_name"}).project(ROW, pseudonym="x")
    assert "ref" not in out and "id" not in out and 41 not in out.values()
    assert view({"ref"}).project(ROW, pseudonym="x")["ref"] == ROW["ref"]


def test_unmasked_dates_are_iso_text() -> None:
    assert view({"entry_date"}).project(ROW, pseudonym="x")["entry_date"] == "2023-09-01"


def test_objects_work_like_mappings() -> None:
    class Row:
        pass

    obj = Row()
    for k, v in ROW.items():
        setattr(obj, k, v)
    v = view({"email", "city"}, {"email": "domain"})
    assert v.project(obj, pseudonym="x") == v.project(ROW, pseudonym="x")


@pytest.mark.parametrize(
    ("read", "masks", "reason"),
    [({"salary"}, {}, "unknown read field"), ({"email"}, {"phone": "last4"}, "not read")],
)
def test_bad_views_are_refused(read: set[str], masks: dict[str, str], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        view(read, masks)


def test_union_of_nothing_is_no_access() -> None:
    with pytest.raises(NotFound):
        union([])


def test_union_shows_the_more_revealing_form() -> None:
    a = view({"birth_date", "email"}, {"birth_date": "year", "email": "domain"}, cid=1)
    b = view({"birth_date", "phone"}, {"birth_date": "month"}, cid=2)
    c = view({"email"}, {}, cid=3)
    u = union([a, b, c])
    assert u.contract_ids == (1, 2, 3)
    assert u.read_fields == {"birth_date", "email", "phone"}
    assert dict(u.masks) == {"birth_date": "month"}
    assert u.budget == Budget(per_day=30, per_30_days=300, rate_per_minute=180)


@st.composite
def contract_views(draw: st.DrawFn, cid: int = 1) -> ContractView:
    read = draw(st.sets(st.sampled_from(sorted(READABLE_FIELDS))))
    masks = {}
    for name in sorted(read):
        options = [m for m, fields in MASK_FIELDS.items() if name in fields]
        if options and draw(st.booleans()):
            masks[name] = draw(st.sampled_from(sorted(options)))
    return view(read, masks, cid=cid)


def _expected(v: ContractView, name: str) -> Any:
    value = ROW[name]
    if name in v.masks:
        return MASKS[v.masks[name]](value)
    return value.isoformat() if isinstance(value, date) else value


@given(contract_views(), st.text(min_size=1, max_size=26))
def test_projection_never_holds_a_field_outside_the_contract(v: ContractView, p: str) -> None:
    out = v.project(ROW, pseudonym=p)
    assert set(out) == (v.read_fields & set(SUBJECT_FIELDS)) | {PSEUDONYM}
    assert out[PSEUDONYM] == p
    for name in set(out) - {PSEUDONYM}:
        assert out[name] == _expected(v, name)


@given(st.lists(contract_views(), min_size=1, max_size=4))
def test_union_shows_exactly_what_some_contract_shows(views: list[ContractView]) -> None:
    u = union(views)
    out = u.project(ROW, pseudonym="x")
    assert set(out) - {PSEUDONYM} == set().union(*(v.read_fields for v in views)) - {PSEUDONYM}
    for name in set(out) - {PSEUDONYM}:
        shown_by = [_expected(v, name) for v in views if name in v.read_fields]
        assert out[name] in shown_by


@given(
    contract_views(),
    st.lists(st.sampled_from(SUBJECT_FIELDS), unique=True),
    st.lists(st.dictionaries(st.sampled_from(SUBJECT_FIELDS), st.none()), max_size=5),
)
def test_projecting_a_page_is_projecting_each_row(
    v: ContractView, names: list[str], holes: list[dict[str, None]]
) -> None:
    """Column by column (the gateway's pages) gives, row for row, what ``project`` gives,
    whatever columns the rows carry (a read field they lack shows as None) and whatever
    values are missing (None stays None through every mask)."""
    rows = [{**ROW, **hole} for hole in holes]
    tuples = [tuple(row[name] for name in names) for row in rows]
    pseudonyms = [f"p{i}" for i in range(len(rows))]
    page = v.project_many(names, tuples, pseudonyms=pseudonyms)
    subset = [{name: row[name] for name in names} for row in rows]
    assert page == [v.project(r, pseudonym=p) for r, p in zip(subset, pseudonyms, strict=True)]
    for record, row in zip(page, subset, strict=True):  # the same keys in the same order
        assert list(record) == list(v.project(row, pseudonym="x"))
