"""Judging one processor against one requirement version: pure functions, no I/O.

:func:`judge` returns a :class:`Verdict` — met or not, and the reasons in words safe to
show the processor (key ids, contract names, counts; never a person's data).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from vigie.requirements.facts import ProcessorFacts

MET = "met"
UNMET = "unmet"
MISSING = "missing"  # attested or checked, with no valid attestation or audit


@dataclass(frozen=True)
class Verdict:
    """Whether a processor meets a requirement, and why not."""

    state: str  # met | unmet | missing
    reasons: tuple[str, ...] = ()
    evidence: tuple[int, ...] = field(default=())  # audit seqs it rests on

    @property
    def met(self) -> bool:
        return self.state == MET


def _result(reasons: list[str]) -> Verdict:
    return Verdict(UNMET, tuple(reasons)) if reasons else Verdict(MET)


def key_expiry(facts: ProcessorFacts, params: Mapping[str, Any]) -> Verdict:
    limit = timedelta(days=int(params["max_days"]))
    reasons = []
    for k in facts.keys:
        if k.expires_at is None:
            reasons.append(f"key {k.key_id} never expires")
        elif k.expires_at - k.created_at > limit:
            days = (k.expires_at - k.created_at).days
            reasons.append(f"key {k.key_id} is valid {days} days (more than {limit.days})")
    return _result(reasons)


def key_allow_list(facts: ProcessorFacts, params: Mapping[str, Any]) -> Verdict:
    return _result([f"key {k.key_id} has no IP allow-list" for k in facts.keys
                    if not k.allowed_cidrs])  # fmt: skip


def unused_keys(facts: ProcessorFacts, params: Mapping[str, Any]) -> Verdict:
    idle = timedelta(days=int(params["max_idle_days"]))
    reasons = []
    for k in facts.keys:
        since = k.last_used_at or k.created_at
        if facts.at - since > idle:
            what = "unused" if k.last_used_at is None else "not used"
            reasons.append(
                f"key {k.key_id} {what} for {(facts.at - since).days} days and still active"
            )
    return _result(reasons)


def normal_volume(facts: ProcessorFacts, params: Mapping[str, Any]) -> Verdict:
    return _result(
        [
            f"contract {c.name} declares no normal volume (expected_per_day)"
            for c in facts.contracts
            if c.expected_per_day is None
        ]
    )


def security_contacts(facts: ProcessorFacts, params: Mapping[str, Any]) -> Verdict:
    reasons = []
    if not (facts.security_officer or "").strip():
        reasons.append("no named security officer")
    if not (facts.security_contact_247 or "").strip():
        reasons.append("no 24/7 security contact")
    return _result(reasons)


def budget_ratio(facts: ProcessorFacts, params: Mapping[str, Any]) -> Verdict:
    ratio = float(params["max_ratio"])
    reasons = []
    for c in facts.contracts:
        if c.expected_per_day is None:
            reasons.append(f"contract {c.name}: no normal volume to compare the budget with")
        elif c.budget_per_day > ratio * c.expected_per_day:
            reasons.append(
                f"contract {c.name}: budget {c.budget_per_day}/day is more than {ratio:g} × "
                f"the normal volume {c.expected_per_day}/day"
            )
    return _result(reasons)


ENFORCED_CHECKS: dict[str, Callable[[ProcessorFacts, Mapping[str, Any]], Verdict]] = {
    "key-expiry": key_expiry,
    "key-allow-list": key_allow_list,
    "unused-keys": unused_keys,
    "normal-volume": normal_volume,
    "security-contacts": security_contacts,
    "budget-ratio": budget_ratio,
}


def attested(facts: ProcessorFacts, *, requirement: str, version: int) -> Verdict:
    """Met by an attestation of this version (or a later one) not expired at ``facts.at``;
    an expired attestation counts as missing."""
    day = facts.at.date()
    mine = [a for a in facts.attestations if a.requirement == requirement and a.version >= version]
    valid = [a for a in mine if a.expires_on >= day]
    if valid:
        best = max(valid, key=lambda a: a.expires_on)
        return Verdict(MET, evidence=(best.audit_seq,))
    if mine:
        last = max(mine, key=lambda a: a.expires_on)
        return Verdict(
            MISSING, (f"attestation {last.attestation_id} expired on {last.expires_on}",)
        )
    return Verdict(MISSING, (f"no attestation of version {version}",))


def controller_audit(facts: ProcessorFacts, params: Mapping[str, Any]) -> Verdict:
    """Met by an audit held in the last ``max_age_days`` with no finding overdue."""
    if not facts.inspections:
        return Verdict(MISSING, ("no audit recorded",))
    last = facts.inspections[-1]
    reasons = []
    age = (facts.at.date() - last.held_on).days
    if age > int(params["max_age_days"]):
        reasons.append(f"last audit {last.held_on} is {age} days old")
    if last.open_findings_past_deadline:
        reasons.append(f"{last.open_findings_past_deadline} finding(s) open past their deadline")
    if reasons:
        return Verdict(UNMET, tuple(reasons), (last.audit_seq,))
    return Verdict(MET, evidence=(last.audit_seq,))


def judge(
    facts: ProcessorFacts, *, kind: str, check: str, requirement: str, version: int,
    parameters: Mapping[str, Any],
) -> Verdict:  # fmt: skip
    """The verdict of one requirement version on one processor."""
    if kind == "enforced":
        return ENFORCED_CHECKS[check](facts, parameters)
    if kind == "attested":
        return attested(facts, requirement=requirement, version=version)
    return controller_audit(facts, parameters)
