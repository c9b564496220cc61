"""Risk assessment of a breach, following the EDPB's factors (Guidelines 9/2022, 01/2021).

Pure functions, no I/O. The score follows ENISA's severity method, which the EDPB's
examples rest on: ``severity = context × ease_of_identification + circumstances``, where

- *context* (1–4) is the nature and sensitivity of the data **for this population**:
  residence status, reason of residence (asylum), nationality and country of birth are
  sensitive for refugees and asylum seekers (risk of persecution of relatives, of
  targeted fraud and extortion), and the population is vulnerable;
- *ease of identification* (0.25–1) is how easily the data points to a person;
- *circumstances* add for malicious intent (a dump put on sale), and for the volume and
  number of people, which the EDPB lists among its factors.

``severity < 2`` is low, ``< 3`` medium, otherwise high. High risk means Art. 34 applies
unless one of the Art. 34(3) exemptions does; each factor keeps its reasoning in words,
recorded with the incident.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from typing import Any

# Field categories, by the registry's field names (vigie.registry.models.SUBJECT_FIELDS).
SENSITIVE = frozenset(
    {"residence_status", "residence_reason", "nationality", "birth_country", "entry_date"}
)
IDENTITY = frozenset(
    {"given_name", "family_name", "given_name_native", "family_name_native", "birth_date"}
)
CONTACT = frozenset({"email", "phone", "address_line"})
LOCATION = frozenset({"postal_code", "city", "region"})
ADMINISTRATIVE = frozenset(
    {"ref", "sex", "preferred_language", "cir_signed_on", "course_hours", "course_level"}
)
CATEGORIES: dict[str, frozenset[str]] = {
    "residence and origin (sensitive for this population)": SENSITIVE,
    "identity": IDENTITY,
    "contact details": CONTACT,
    "location": LOCATION,
    "administrative file": ADMINISTRATIVE,
    "pseudonym": frozenset({"pseudonym"}),
}

EXEMPTIONS = {
    "a": "Art. 34(3)(a): the data was unintelligible to anyone not authorised (encrypted)",
    "b": "Art. 34(3)(b): measures taken since ensure the high risk is no longer likely",
    "c": "Art. 34(3)(c): individual communication would involve disproportionate effort; "
    "a public communication is made instead",
}


def category_of(field_name: str) -> str:
    """The category a field name belongs to (``other`` when unknown)."""
    for name, members in CATEGORIES.items():
        if field_name in members:
            return name
    return "other"


@dataclass(frozen=True)
class RiskFacts:
    """What is known about a breach, as the assessment needs it (no personal values)."""

    fields: Collection[str]  # exposed field names, over all affected people
    people: int  # number of people affected
    vulnerable: bool = True  # refugees and asylum seekers are among them
    malicious: bool = False  # exfiltrated with intent (e.g. put on sale)
    encrypted: bool = False  # exposed only in a form unintelligible without a key
    risk_neutralised: str | None = None  # Art. 34(3)(b): the measure, in words
    disproportionate_effort: str | None = None  # Art. 34(3)(c): why, in words


@dataclass(frozen=True)
class Factor:
    """One EDPB factor: its rating and the reasoning behind it."""

    name: str
    rating: float
    reason: str


@dataclass(frozen=True)
class RiskAssessment:
    """The outcome, with every factor's reasoning; stored with the incident as JSON."""

    severity: float
    level: str  # low | medium | high
    factors: list[Factor] = field(default_factory=list)
    notify_authority: bool = True  # Art. 33: unless unlikely to result in a risk
    notify_people: bool = False  # Art. 34
    exemption: str | None = None  # "a" | "b" | "c"
    decision: str = ""

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return asdict(self)


def _context(fields: frozenset[str], vulnerable: bool) -> Factor:
    sensitive = sorted(fields & SENSITIVE)
    if sensitive and vulnerable:
        return Factor(
            "nature and sensitivity",
            4.0,
            f"{', '.join(sensitive)} exposed for a population of refugees and asylum seekers: "
            "risk of persecution of relatives, discrimination, targeted fraud or extortion",
        )
    if sensitive:
        return Factor(
            "nature and sensitivity",
            3.0,
            f"{', '.join(sensitive)} reveal immigration status and origin",
        )
    if fields & (IDENTITY | CONTACT):
        return Factor(
            "nature and sensitivity",
            2.0 if vulnerable else 1.0,
            "identity and contact data"
            + (" of vulnerable people, usable for targeted phishing" if vulnerable else ""),
        )
    return Factor("nature and sensitivity", 1.0, "administrative data of low sensitivity")


def _identification(fields: frozenset[str]) -> Factor:
    names = bool(fields & {"given_name", "family_name", "given_name_native", "family_name_native"})
    direct = fields & (CONTACT | {"birth_date", "ref"})
    if names and direct:
        return Factor("ease of identification", 1.0, "names with contact details or birth date")
    if names or fields & CONTACT:
        return Factor("ease of identification", 0.75, "names or contact details alone")
    if fields & {"ref", "birth_date"}:
        return Factor("ease of identification", 0.5, "a file number or birth date")
    return Factor("ease of identification", 0.25, "only pseudonymous or aggregate data")


def _circumstances(people: int, malicious: bool) -> list[Factor]:
    out = []
    if malicious:
        out.append(Factor("circumstances", 0.5, "exfiltrated with malicious intent"))
    if people >= 100_000:
        out.append(Factor("number of people", 0.5, f"{people} people: a very large breach"))
    elif people >= 1_000:
        out.append(Factor("number of people", 0.25, f"{people} people"))
    else:
        out.append(Factor("number of people", 0.0, f"{people} people"))
    return out


def assess(facts: RiskFacts) -> RiskAssessment:
    """Assess a breach's risk to people and decide on Art. 33 and Art. 34."""
    fields = frozenset(facts.fields)
    context = _context(fields, facts.vulnerable)
    ident = _identification(fields)
    extra = _circumstances(facts.people, facts.malicious)
    vuln = Factor(
        "vulnerable people",
        0.0,
        "refugees and asylum seekers are among the people affected"
        if facts.vulnerable
        else "no particularly vulnerable group identified",
    )
    severity = round(context.rating * ident.rating + sum(f.rating for f in extra), 2)
    level = "low" if severity < 2 else "medium" if severity < 3 else "high"
    factors = [context, ident, vuln, *extra]
    consequences = Factor("severity of consequences", severity, _consequences(level))
    factors.append(consequences)
    if facts.people == 0:
        return RiskAssessment(
            severity, "low", factors, False, False, None, "no person affected: no notification"
        )
    if facts.encrypted:
        return RiskAssessment(
            severity,
            level,
            factors,
            False,
            False,
            "a" if level == "high" else None,
            "data unintelligible without a key that was not compromised: "
            "record in the register (Art. 33(5)); " + EXEMPTIONS["a"],
        )
    notify_authority = not (level == "low" and ident.rating <= 0.25)
    if level != "high":
        decision = (
            "risk not high: notify the authority (Art. 33), no communication to people"
            if notify_authority
            else "unlikely to result in a risk: record in the register only (Art. 33(5))"
        )
        return RiskAssessment(severity, level, factors, notify_authority, False, None, decision)
    for key, why in (("b", facts.risk_neutralised), ("c", facts.disproportionate_effort)):
        if why:
            decision = f"high risk; exempted from individual notices by {EXEMPTIONS[key]}: {why}"
            return RiskAssessment(severity, level, factors, True, False, key, decision)
    return RiskAssessment(
        severity,
        level,
        factors,
        True,
        True,
        None,
        "high risk: notify the authority (Art. 33) and tell each person (Art. 34)",
    )


def _consequences(level: str) -> str:
    return {
        "low": "people are unlikely to be affected, or only with minor inconvenience",
        "medium": "people may face significant inconvenience (unwanted contact, phishing)",
        "high": "people may face serious consequences: fraud and phishing using their file, "
        "extortion, threats to themselves or relatives in the country of origin",
    }[level]
