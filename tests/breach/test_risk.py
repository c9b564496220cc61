"""The risk assessment: EDPB factors, Art. 33 and Art. 34 decisions (table-driven)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vigie.breach.risk import CATEGORIES, RiskFacts, assess, category_of
from vigie.registry.models import SUBJECT_FIELDS

OFII = [
    "given_name",
    "family_name",
    "email",
    "phone",
    "nationality",
    "residence_status",
    "residence_reason",
    "entry_date",
]

CASES = [
    # (name, facts, level, notify_authority, notify_people, exemption)
    ("ofii dump", RiskFacts(OFII, 2_100_000, malicious=True), "high", True, True, None),
    ("few people, sensitive", RiskFacts(OFII, 12), "high", True, True, None),
    ("contact only, vulnerable", RiskFacts(["email"], 500), "low", True, False, None),
    (
        "names+contact, vulnerable, many",
        RiskFacts(["given_name", "family_name", "email"], 5_000),
        "medium",
        True,
        False,
        None,
    ),
    (
        "names+contact, on sale, huge",
        RiskFacts(["given_name", "family_name", "phone"], 200_000, malicious=True),
        "high",
        True,
        True,
        None,
    ),
    ("pseudonyms only", RiskFacts(["pseudonym", "course_hours"], 300), "low", False, False, None),
    ("encrypted", RiskFacts(OFII, 2_100_000, encrypted=True), "high", False, False, "a"),
    (
        "neutralised",
        RiskFacts(OFII, 40, risk_neutralised="copy deleted under bailiff's watch"),
        "high",
        True,
        False,
        "b",
    ),
    (
        "disproportionate",
        RiskFacts(OFII, 40, disproportionate_effort="no contact details"),
        "high",
        True,
        False,
        "c",
    ),
    (
        "not vulnerable, sensitive",
        RiskFacts(["nationality", "ref"], 10, vulnerable=False),
        "low",
        True,
        False,
        None,
    ),
    ("nobody", RiskFacts(OFII, 0), "low", False, False, None),
]


@pytest.mark.parametrize(
    ("name", "facts", "level", "authority", "people", "exemption"), CASES, ids=[c[0] for c in CASES]
)
def test_assessment(
    name: str, facts: RiskFacts, level: str, authority: bool, people: bool, exemption: str | None
) -> None:
    got = assess(facts)
    assert (got.level, got.notify_authority, got.notify_people, got.exemption) == (
        level,
        authority,
        people,
        exemption,
    )
    assert got.decision
    assert {f.name for f in got.factors} >= {
        "nature and sensitivity",
        "ease of identification",
        "vulnerable people",
        "number of people",
        "severity of consequences",
    }
    assert all(f.reason for f in got.factors)


def test_reasoning_names_sensitive_fields() -> None:
    got = assess(RiskFacts(OFII, 100))
    nature = next(f for f in got.factors if f.name == "nature and sensitivity")
    assert "residence_status" in nature.reason and "asylum" in nature.reason


def test_every_registry_field_has_a_category() -> None:
    assert all(category_of(f) != "other" for f in SUBJECT_FIELDS)
    assert category_of("pseudonym") == "pseudonym"
    assert len(CATEGORIES) == 6


@given(
    st.sets(st.sampled_from([*SUBJECT_FIELDS, "pseudonym"])),
    st.integers(min_value=1, max_value=3_000_000),
    st.booleans(),
)
def test_more_fields_never_lower_the_severity(fields: set[str], people: int, mal: bool) -> None:
    base = assess(RiskFacts(fields, people, malicious=mal))
    more = assess(RiskFacts(fields | {"residence_status", "email"}, people, malicious=mal))
    assert more.severity >= base.severity
    assert base.as_dict()["level"] == base.level
