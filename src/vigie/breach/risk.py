"""Risk assessment of a breach, following the EDPB's factors (Guidelines 9/2022, 01/2021).

Pure functions, no I/O. The score follows ENISA's severity method, which the EDPB's
examples rest on: ``severity = context × ease_of_identification + circumstances``, where

- *context* (1–4) is the nature and sensitivity of the data **for this population**.
  Residence status, reason of residence (asylum), nationality and country of birth are
  sensitive fields (3). The registry's declared population context
  (:mod:`vigie.registry.population`) weighs too: when being in the registry reveals
  something sensitive (``membership_reveals``), any data of it counts as sensitive data
  (3) even when no sensitive field leaked, and as special-category data (4) when an
  Art. 9 category can be inferred from membership; vulnerable people raise the context
  by one (ENISA: the data becomes critical for their safety), up to 4;
- *ease of identification* (0.25–1) is how easily the data points to a person;
- *circumstances* add for malicious intent (a dump put on sale), for who received the data,
  and for the volume and number of people, which the EDPB lists among its factors.

ENISA's adjustments that the EDPB's worked examples need (ENISA, "Recommendations for a
methodology of the assessment of severity of personal data breaches", 2013; EDPB
Guidelines 01/2021, cases 05 and 11):

- *simple data* (identity, contact, administrative: ENISA's base score 1) is raised to 2
  when the data allows profiling the person or assumptions about their social or financial
  status (ENISA's first increase of simple data). Vigie applies it when the incident
  declares it (``profiling_possible``: a CV's education and work history, say, which no
  registry field holds), and when names, a postal address and a birth date leaked
  together: enough to impersonate the person (open an account, redirect their mail), the
  identity-theft risk the EDPB weighs in case 11. The raise does not stack on data already
  rated above simple data, and happens once whichever reason triggers it;
- the *circumstances of the breach* for confidentiality (ENISA's CB): 0 when the data was
  exposed with no evidence that anyone processed it (a stolen device, a misconfigured
  server), +0.25 when it reached known recipients (a former employee, a misdirected file),
  +0.5 when it reached an unknown number of unknown recipients (exfiltrated by malicious
  code, published, offered for sale). Malicious intent is ENISA's separate +0.5.
  Undeclared recipients count 0, and the reasoning says they were not declared — and,
  when the incident was opened from a leaked file (``found_outside``), that the data did
  reach someone and the recipients should be declared.

``severity < 2`` is low, ``< 3`` medium, otherwise high. High risk means Art. 34 applies
unless one of the Art. 34(3) exemptions does; each factor keeps its reasoning in words,
recorded with the incident. The DPO may overrule the outcome, with a reason
(:func:`overrule`); the computed assessment is kept beside the DPO's decision.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any

from vigie.errors import InvalidInput
from vigie.registry.population import PopulationContext

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


NAMES = frozenset({"given_name", "family_name", "given_name_native", "family_name_native"})


class Recipients(StrEnum):
    """Who received the exposed data: ENISA's circumstances of a confidentiality breach."""

    none = "none"  # exposed, with no evidence that anyone processed it (0)
    known = "known"  # disclosed to known recipients (+0.25)
    unknown = "unknown"  # disclosed to an unknown number of unknown recipients (+0.5)


RECIPIENTS: dict[str, tuple[float, str]] = {
    Recipients.none: (
        0.0,
        "exposed with no evidence that anyone processed it (ENISA: 0)",
    ),
    Recipients.known: (
        0.25,
        "disclosed to known recipients, who can be asked to delete it (ENISA: +0.25)",
    ),
    Recipients.unknown: (
        0.5,
        "disclosed to an unknown number of unknown recipients, beyond recall (ENISA: +0.5)",
    ),
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
    population: PopulationContext  # the registry's declared population context
    malicious: bool = False  # exfiltrated with intent (e.g. put on sale)
    encrypted: bool = False  # exposed only in a form unintelligible without a key
    risk_neutralised: str | None = None  # Art. 34(3)(b) (at low risk: Art. 33): the measure
    disproportionate_effort: str | None = None  # Art. 34(3)(c): why, in words
    profiling_possible: bool = False  # the data allows profiling (e.g. a CV): ENISA
    recipients: str | None = None  # a Recipients value; None: not declared (counts 0)
    found_outside: bool = False  # found outside (a leaked file): it reached someone

    def __post_init__(self) -> None:
        if self.recipients is not None and self.recipients not in RECIPIENTS:
            raise InvalidInput(
                f"recipients must be one of {', '.join(sorted(RECIPIENTS))} "
                f"(got {self.recipients!r})"
            )


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
    population: dict[str, Any] = field(default_factory=dict)  # the context weighed
    override: dict[str, Any] | None = None  # the DPO's decision over the computed one

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RiskAssessment:
        """Back from :meth:`as_dict` (as stored with the incident)."""
        factors = [Factor(**f) for f in data.get("factors", [])]
        return cls(**{**data, "factors": factors})


def _simple_data_raises(fields: frozenset[str], profiling_possible: bool) -> list[str]:
    """Why simple data counts as 2 rather than 1 (ENISA's first increase), in words."""
    out = []
    if fields and profiling_possible:
        out.append(
            "the data allows profiling the person or assumptions about their social or "
            "financial status (declared)"
        )
    if fields & NAMES and {"birth_date", "address_line"} <= fields:
        out.append(
            "names, postal address and birth date together allow identity theft "
            "(opening accounts or redirecting mail in the person's name)"
        )
    return out


def _context(
    fields: frozenset[str], population: PopulationContext, profiling_possible: bool
) -> tuple[Factor, Factor]:
    """The nature-and-sensitivity factor and, apart, how much vulnerability raised it."""
    sensitive = sorted(fields & SENSITIVE)
    reasons: list[str] = []
    base = 1.0
    if fields and population.special_categories_inferable:
        base = 4.0
        reasons.append(
            "being in this registry reveals special-category data (Art. 9: "
            f"{', '.join(population.special_categories_inferable)})"
        )
    if sensitive:
        base = max(base, 3.0)
        reasons.append(f"{', '.join(sensitive)} reveal immigration status and origin")
    if fields and population.membership_reveals:
        base = max(base, 3.0)
        reasons.append(
            f"being in this registry reveals {population.membership_reveals}: any of its data "
            "counts as sensitive" + ("" if sensitive else ", although no sensitive field leaked")
        )
    raises = _simple_data_raises(fields, profiling_possible)
    if not reasons:
        reasons.append(
            "identity and contact data"
            if fields & (IDENTITY | CONTACT)
            else "administrative data of low sensitivity"
        )
        if raises:
            base = 2.0
            reasons.append(f"{' and '.join(raises)}: simple data raised from 1 to 2 (ENISA)")
    elif raises:
        reasons.append(f"{' and '.join(raises)} (already weighed: rated above simple data)")
    raised = min(1.0, 4.0 - base) if population.vulnerable and fields else 0.0
    if population.vulnerable:
        why = population.vulnerable_why or "declared vulnerable"
        if raised:
            effect = (
                f"raises the context from {base:g} to {base + raised:g} "
                "(risk of targeted phishing, fraud, extortion or discrimination)"
            )
        elif fields:
            effect = "the context is already at its highest (4)"
        else:
            effect = "no data exposed"
        vulnerable = Factor("vulnerable people", raised, f"{why}: {effect}")
    else:
        vulnerable = Factor(
            "vulnerable people", 0.0, "the registry declares no particularly vulnerable group"
        )
    if raised:
        reasons.append("people declared vulnerable (+1)")
    nature = Factor("nature and sensitivity", base + raised, "; ".join(reasons))
    return nature, vulnerable


def _identification(fields: frozenset[str]) -> Factor:
    names = bool(fields & NAMES)
    direct = fields & (CONTACT | {"birth_date", "ref"})
    if names and direct:
        return Factor("ease of identification", 1.0, "names with contact details or birth date")
    if names or fields & CONTACT:
        return Factor("ease of identification", 0.75, "names or contact details alone")
    if fields & {"ref", "birth_date"}:
        return Factor("ease of identification", 0.5, "a file number or birth date")
    return Factor("ease of identification", 0.25, "only pseudonymous or aggregate data")


def _circumstances(
    people: int, malicious: bool, recipients: str | None, found_outside: bool
) -> list[Factor]:
    out = []
    if malicious:
        out.append(Factor("circumstances", 0.5, "exfiltrated with malicious intent"))
    if people >= 100_000:
        out.append(Factor("number of people", 0.5, f"{people} people: a very large breach"))
    elif people >= 1_000:
        out.append(Factor("number of people", 0.25, f"{people} people"))
    else:
        out.append(Factor("number of people", 0.0, f"{people} people"))
    if recipients is None and found_outside:
        out.append(
            Factor(
                "recipients",
                0.0,
                "not declared, yet the data was found outside in a leaked file, so it reached "
                "someone: counted 0 until declared (--recipients unknown adds 0.5 when it was "
                "published or offered for sale, --recipients known adds 0.25)",
            )
        )
    elif recipients is None:
        out.append(
            Factor(
                "recipients",
                0.0,
                "no recipient declared: counted as exposed with no evidence that anyone "
                "processed it (known recipients would add 0.25, unknown ones 0.5)",
            )
        )
    else:
        rating, reason = RECIPIENTS[recipients]
        out.append(Factor("recipients", rating, reason))
    return out


def assess(facts: RiskFacts) -> RiskAssessment:
    """Assess a breach's risk to people and decide on Art. 33 and Art. 34."""
    return replace(_assess(facts), population=facts.population.as_dict())


def overrule(
    assessment: RiskAssessment, *, notify_people: bool, reason: str, by: str, at: str
) -> RiskAssessment:
    """The DPO's decision on Art. 34 over the computed one, with the reason (required).

    The computed level, severity and factors stay as they were; the decision says both.
    Telling people implies notifying the authority.
    """
    reason = reason.strip()
    if not reason:
        raise InvalidInput("overruling the risk assessment needs a reason (it is recorded)")
    computed = "calls for" if assessment.notify_people else "does not call for"
    chosen = "tell each person (Art. 34)" if notify_people else "send no individual notices"
    decision = (
        f"DPO's decision: {chosen}, while the assessment ({assessment.level}, "
        f"{assessment.severity}) {computed} them — {reason}"
    )
    return replace(
        assessment,
        notify_people=notify_people,
        notify_authority=assessment.notify_authority or notify_people,
        decision=decision,
        override={
            "notify_people": notify_people,
            "reason": reason,
            "by": by,
            "at": at,
            "computed_notify_people": assessment.notify_people,
            "computed_decision": assessment.decision,
        },
    )


def _assess(facts: RiskFacts) -> RiskAssessment:
    fields = frozenset(facts.fields)
    context, vuln = _context(fields, facts.population, facts.profiling_possible)
    ident = _identification(fields)
    extra = _circumstances(facts.people, facts.malicious, facts.recipients, facts.found_outside)
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
    # Low risk, and either nobody can be identified or a measure has since contained it
    # (a trusted recipient deleted a file sent by mistake: EDPB Guidelines 01/2021, cases
    # 09 and 13): unlikely to result in a risk, so no notification to the authority.
    contained = level == "low" and bool(facts.risk_neutralised)
    notify_authority = not ((level == "low" and ident.rating <= 0.25) or contained)
    if level != "high":
        decision = (
            "risk not high: notify the authority (Art. 33), no communication to people"
            if notify_authority
            else "unlikely to result in a risk: record in the register only (Art. 33(5))"
            + (f"; measure taken: {facts.risk_neutralised}" if contained else "")
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
