"""The risk assessment: EDPB factors, population context, Art. 33 and Art. 34 decisions,
the DPO's overruling (table-driven)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vigie.breach.risk import CATEGORIES, RiskAssessment, RiskFacts, assess, category_of, overrule
from vigie.errors import InvalidInput
from vigie.registry.models import SUBJECT_FIELDS
from vigie.registry.population import PopulationContext, load_population
from vigie.synth.load import POPULATION

# The synthetic CIR registry's declared context (the file `vigie synth` declares).
CIR = load_population(POPULATION)
# A registry whose people are vulnerable, but where being in it reveals nothing.
VULNERABLE = PopulationContext(vulnerable=True, vulnerable_why="elderly people living alone")
# An ordinary registry (a sports club's members, say).
PLAIN = PopulationContext(vulnerable=False)

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
    ("ofii dump", RiskFacts(OFII, 2_100_000, VULNERABLE, malicious=True), "high", True, True, None),
    ("few people, sensitive", RiskFacts(OFII, 12, VULNERABLE), "high", True, True, None),
    ("contact only, vulnerable", RiskFacts(["email"], 500, VULNERABLE), "low", True, False, None),
    (
        "names+contact, vulnerable, many",
        RiskFacts(["given_name", "family_name", "email"], 5_000, VULNERABLE),
        "medium",
        True,
        False,
        None,
    ),
    (
        "names+contact, on sale, huge",
        RiskFacts(["given_name", "family_name", "phone"], 200_000, VULNERABLE, malicious=True),
        "high",
        True,
        True,
        None,
    ),
    (
        "pseudonyms only",
        RiskFacts(["pseudonym", "course_hours"], 300, VULNERABLE),
        "low",
        False,
        False,
        None,
    ),
    (
        "encrypted",
        RiskFacts(OFII, 2_100_000, VULNERABLE, encrypted=True),
        "high",
        False,
        False,
        "a",
    ),
    (
        "neutralised",
        RiskFacts(OFII, 40, VULNERABLE, risk_neutralised="copy deleted under bailiff's watch"),
        "high",
        True,
        False,
        "b",
    ),
    (
        "disproportionate",
        RiskFacts(OFII, 40, VULNERABLE, disproportionate_effort="no contact details"),
        "high",
        True,
        False,
        "c",
    ),
    (
        "not vulnerable, sensitive",
        RiskFacts(["nationality", "ref"], 10, PLAIN),
        "low",
        True,
        False,
        None,
    ),
    ("nobody", RiskFacts(OFII, 0, VULNERABLE), "low", False, False, None),
    (
        "medium, measure taken: still notified",
        RiskFacts(["given_name", "family_name", "email"], 5_000, VULNERABLE, risk_neutralised="x"),
        "medium",
        True,
        False,
        None,
    ),
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
        "recipients",
        "severity of consequences",
    }
    assert all(f.reason for f in got.factors)


def test_reasoning_names_sensitive_fields() -> None:
    got = assess(RiskFacts(OFII, 100, CIR))
    factors = {f.name: f for f in got.factors}
    assert "residence_status" in factors["nature and sensitivity"].reason
    assert "asylum" in factors["vulnerable people"].reason


# The leak of the review (issue 20, finding 4): a civic-training provider's list — names,
# contacts, birth year, city, CIR date, preferred language — put on sale.
CIR_PROVIDER_LIST = [
    "given_name",
    "family_name",
    "email",
    "phone",
    "birth_date",
    "city",
    "cir_signed_on",
    "preferred_language",
]


def test_cir_provider_list_on_sale_is_high_with_its_reasons() -> None:
    got = assess(RiskFacts(CIR_PROVIDER_LIST, 4_000, CIR, malicious=True))
    assert (got.level, got.notify_authority, got.notify_people) == ("high", True, True)
    assert "Art. 34" in got.decision
    factors = {f.name: f for f in got.factors}
    nature = factors["nature and sensitivity"]
    assert nature.rating == 4.0
    assert "recent immigration" in nature.reason and "no sensitive field leaked" in nature.reason
    assert factors["vulnerable people"].rating == 1.0
    assert "refugees and asylum seekers" in factors["vulnerable people"].reason
    assert got.population == CIR.as_dict()


@pytest.mark.parametrize(
    ("population", "level"), [(VULNERABLE, "medium"), (PLAIN, "low")], ids=["vulnerable", "plain"]
)
def test_same_list_from_a_registry_revealing_nothing_is_not_high(
    population: PopulationContext, level: str
) -> None:
    got = assess(RiskFacts(CIR_PROVIDER_LIST, 4_000, population, malicious=True))
    assert (got.level, got.notify_people) == (level, False)
    nature = next(f for f in got.factors if f.name == "nature and sensitivity")
    assert "reveals" not in nature.reason


def test_vulnerable_people_factor_says_what_it_weighed() -> None:
    """No more "vulnerable people (0.0)" beside "refugees are among them"."""
    for fields in (["email"], ["given_name", "email"], OFII):
        got = assess(RiskFacts(fields, 50, CIR))
        vuln = next(f for f in got.factors if f.name == "vulnerable people")
        nature = next(f for f in got.factors if f.name == "nature and sensitivity")
        assert vuln.rating > 0 or "highest" in vuln.reason, (fields, vuln)
        assert nature.rating == min(4.0, 3.0 + vuln.rating)
    plain = next(
        f for f in assess(RiskFacts(OFII, 50, PLAIN)).factors if f.name == "vulnerable people"
    )
    assert plain.rating == 0.0 and "no particularly vulnerable" in plain.reason


def test_special_categories_inferable_from_membership_count_as_sensitive_data() -> None:
    clinic = PopulationContext(
        membership_reveals="treatment for drug addiction",
        vulnerable=False,
        special_categories_inferable=("health",),
    )
    got = assess(RiskFacts(["given_name", "family_name"], 30, clinic))
    nature = next(f for f in got.factors if f.name == "nature and sensitivity")
    assert nature.rating == 4.0 and "health" in nature.reason
    assert got.level == "high"


def test_dpo_overrules_with_a_reason_and_the_computed_outcome_stays() -> None:
    computed = assess(RiskFacts(["email"], 500, VULNERABLE))
    assert not computed.notify_people
    got = overrule(
        computed, notify_people=True, reason="targeted phishing seen", by="operator:dpo",
        at="2026-12-06T22:00:00+00:00",
    )  # fmt: skip
    assert got.notify_people and got.notify_authority
    assert (got.level, got.severity, got.factors) == (computed.level, computed.severity,
                                                      computed.factors)  # fmt: skip
    assert "DPO" in got.decision and "targeted phishing seen" in got.decision
    assert got.override is not None and got.override["computed_notify_people"] is False
    assert RiskAssessment.from_dict(got.as_dict()) == got
    with pytest.raises(InvalidInput, match="reason"):
        overrule(computed, notify_people=True, reason="  ", by="operator:dpo", at="")


def test_every_registry_field_has_a_category() -> None:
    assert all(category_of(f) != "other" for f in SUBJECT_FIELDS)
    assert category_of("pseudonym") == "pseudonym"
    assert len(CATEGORIES) == 6


@given(
    st.sets(st.sampled_from([*SUBJECT_FIELDS, "pseudonym"])),
    st.integers(min_value=1, max_value=3_000_000),
    st.booleans(),
    st.sampled_from([CIR, VULNERABLE, PLAIN]),
)
def test_more_fields_never_lower_the_severity(
    fields: set[str], people: int, mal: bool, population: PopulationContext
) -> None:
    base = assess(RiskFacts(fields, people, population, malicious=mal))
    more = assess(
        RiskFacts(fields | {"residence_status", "email"}, people, population, malicious=mal)
    )
    assert more.severity >= base.severity
    assert base.as_dict()["level"] == base.level


@given(
    st.sets(st.sampled_from([*SUBJECT_FIELDS, "pseudonym"]), min_size=1),
    st.integers(min_value=1, max_value=3_000_000),
    st.booleans(),
)
def test_a_revealing_vulnerable_population_never_lowers_the_severity(
    fields: set[str], people: int, mal: bool
) -> None:
    plain = assess(RiskFacts(fields, people, PLAIN, malicious=mal)).severity
    vulnerable = assess(RiskFacts(fields, people, VULNERABLE, malicious=mal)).severity
    cir = assess(RiskFacts(fields, people, CIR, malicious=mal)).severity
    assert plain <= vulnerable <= cir


# ENISA's adjustments to simple data and its circumstances of a confidentiality breach.
NAMES_EMAIL = ["given_name", "family_name", "email"]
IDENTITY_THEFT = ["family_name", "birth_date", "address_line"]


@pytest.mark.parametrize(
    ("fields", "extra", "context", "words"),
    [
        (NAMES_EMAIL, {}, 1.0, "identity and contact data"),
        (NAMES_EMAIL, {"profiling_possible": True}, 2.0, "profiling"),
        (IDENTITY_THEFT, {}, 2.0, "identity theft"),
        (["given_name_native", "birth_date", "address_line"], {}, 2.0, "identity theft"),
        (["family_name", "birth_date", "city"], {}, 1.0, "identity and contact data"),
        (["family_name", "address_line"], {}, 1.0, "identity and contact data"),
        (["birth_date", "address_line"], {}, 1.0, "identity and contact data"),
        # Already sensitive: the raise of simple data does not stack on it.
        (["nationality", "family_name"], {"profiling_possible": True}, 3.0, "nationality"),
        ([*IDENTITY_THEFT, "nationality"], {}, 3.0, "nationality"),
    ],
)
def test_simple_data_raised_when_it_allows_profiling_or_identity_theft(
    fields: list[str], extra: dict[str, bool], context: float, words: str
) -> None:
    got = assess(RiskFacts(fields, 50, PLAIN, **extra))
    nature = next(f for f in got.factors if f.name == "nature and sensitivity")
    assert (nature.rating, words in nature.reason) == (context, True), nature


def test_profiling_and_identity_theft_raise_once_and_vulnerability_on_top() -> None:
    both = assess(RiskFacts(IDENTITY_THEFT, 50, PLAIN, profiling_possible=True))
    nature = next(f for f in both.factors if f.name == "nature and sensitivity")
    assert nature.rating == 2.0 and "profiling" in nature.reason
    assert "identity theft" in nature.reason
    vulnerable = assess(RiskFacts(IDENTITY_THEFT, 50, VULNERABLE))
    nature = next(f for f in vulnerable.factors if f.name == "nature and sensitivity")
    assert nature.rating == 3.0


@pytest.mark.parametrize(
    ("recipients", "rating", "words"),
    [
        (None, 0.0, "no recipient declared"),
        ("none", 0.0, "no evidence"),
        ("known", 0.25, "known recipients"),
        ("unknown", 0.5, "unknown number of unknown recipients"),
    ],
)
def test_recipients_of_the_data_add_to_the_circumstances(
    recipients: str | None, rating: float, words: str
) -> None:
    base = assess(RiskFacts(NAMES_EMAIL, 50, PLAIN)).severity
    got = assess(RiskFacts(NAMES_EMAIL, 50, PLAIN, recipients=recipients))
    factor = next(f for f in got.factors if f.name == "recipients")
    assert (factor.rating, words in factor.reason) == (rating, True), factor
    assert got.severity == base + rating


def test_unknown_recipients_value_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"recipients.*known, none, unknown"):
        assess(RiskFacts(NAMES_EMAIL, 50, PLAIN, recipients="some"))


@given(
    st.sets(st.sampled_from([*SUBJECT_FIELDS, "pseudonym"])),
    st.integers(min_value=1, max_value=3_000_000),
    st.booleans(),
    st.sampled_from([CIR, VULNERABLE, PLAIN]),
    st.sampled_from(["none", "known", "unknown"]),
)
def test_declaring_profiling_or_recipients_never_lowers_the_severity(
    fields: set[str], people: int, mal: bool, population: PopulationContext, recipients: str
) -> None:
    undeclared = assess(RiskFacts(fields, people, population, malicious=mal))
    declared = assess(
        RiskFacts(
            fields,
            people,
            population,
            malicious=mal,
            profiling_possible=True,
            recipients=recipients,
        )
    )
    assert declared.severity >= undeclared.severity
    nature = next(f for f in declared.factors if f.name == "nature and sensitivity")
    assert nature.rating <= 4.0
