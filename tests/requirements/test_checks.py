"""The enforced checks, table-driven on plain facts; attested and checked verdicts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from vigie.requirements.checks import ENFORCED_CHECKS, attested, controller_audit
from vigie.requirements.facts import (
    AttestationFacts,
    ContractFacts,
    InspectionFacts,
    KeyFacts,
    ProcessorFacts,
)

AT = datetime(2027, 3, 10, tzinfo=UTC)


def _key(i: int = 1, *, days: int | None = 30, cidrs: tuple[str, ...] = ("192.0.2.0/24",),
         used_days_ago: int | None = 1, age: int = 10) -> KeyFacts:  # fmt: skip
    created = AT - timedelta(days=age)
    return KeyFacts(
        key_id=i,
        created_at=created,
        expires_at=None if days is None else created + timedelta(days=days),
        allowed_cidrs=cidrs,
        last_used_at=None if used_days_ago is None else AT - timedelta(days=used_days_ago),
    )


def _facts(**kw: Any) -> ProcessorFacts:
    base: dict[str, Any] = {
        "processor_id": 1, "name": "p", "security_officer": "Claire Martin",
        "security_contact_247": "+33 1 00 00 00 00", "at": AT, "keys": (_key(),),
        "contracts": (ContractFacts("c", "REF", 50, 20),), "attestations": (), "inspections": (),
    }  # fmt: skip
    base.update(kw)
    return ProcessorFacts(**base)


CASES: list[tuple[str, Mapping[str, Any], ProcessorFacts, tuple[str, ...]]] = [
    ("key-expiry", {"max_days": 90}, _facts(), ()),
    ("key-expiry", {"max_days": 90}, _facts(keys=(_key(days=None),)), ("key 1 never expires",)),
    ("key-expiry", {"max_days": 90}, _facts(keys=(_key(days=365),)),
     ("key 1 is valid 365 days (more than 90)",)),
    ("key-expiry", {"max_days": 90}, _facts(keys=()), ()),
    ("key-allow-list", {}, _facts(), ()),
    ("key-allow-list", {}, _facts(keys=(_key(), _key(2, cidrs=()))),
     ("key 2 has no IP allow-list",)),
    ("unused-keys", {"max_idle_days": 30}, _facts(), ()),
    ("unused-keys", {"max_idle_days": 30}, _facts(keys=(_key(used_days_ago=45, age=60),)),
     ("key 1 not used for 45 days and still active",)),
    ("unused-keys", {"max_idle_days": 30}, _facts(keys=(_key(used_days_ago=None, age=31),)),
     ("key 1 unused for 31 days and still active",)),
    ("unused-keys", {"max_idle_days": 30}, _facts(keys=(_key(used_days_ago=None, age=29),)), ()),
    ("normal-volume", {}, _facts(), ()),
    ("normal-volume", {}, _facts(contracts=(ContractFacts("c", "R", 50, None),)),
     ("contract c declares no normal volume (expected_per_day)",)),
    ("security-contacts", {}, _facts(), ()),
    ("security-contacts", {}, _facts(security_contact_247=None, security_officer=" "),
     ("no named security officer", "no 24/7 security contact")),
    ("budget-ratio", {"max_ratio": 3}, _facts(contracts=(ContractFacts("c", "R", 60, 20),)), ()),
    ("budget-ratio", {"max_ratio": 3}, _facts(contracts=(ContractFacts("c", "R", 61, 20),)),
     ("contract c: budget 61/day is more than 3 × the normal volume 20/day",)),
    ("budget-ratio", {"max_ratio": 2.5}, _facts(contracts=(ContractFacts("c", "R", 9, None),)),
     ("contract c: no normal volume to compare the budget with",)),
]  # fmt: skip


@pytest.mark.parametrize(("check", "params", "facts", "reasons"), CASES)
def test_enforced_check(
    check: str, params: Mapping[str, Any], facts: ProcessorFacts, reasons: tuple[str, ...]
) -> None:
    verdict = ENFORCED_CHECKS[check](facts, params)
    assert verdict.reasons == reasons
    assert verdict.met is (not reasons)


def _attestation(expires: date, version: int = 1) -> AttestationFacts:
    return AttestationFacts(7, "mfa", version, expires, "ab" * 32, 42)


def test_an_attestation_counts_until_it_expires_then_is_missing() -> None:
    valid = attested(_facts(attestations=(_attestation(date(2027, 3, 10)),)), requirement="mfa",
                     version=1)  # fmt: skip
    assert valid.met and valid.evidence == (42,)
    expired = attested(_facts(attestations=(_attestation(date(2027, 3, 9)),)), requirement="mfa",
                       version=1)  # fmt: skip
    assert expired.state == "missing"
    assert expired.reasons == ("attestation 7 expired on 2027-03-09",)
    older = attested(_facts(attestations=(_attestation(date(2028, 1, 1)),)), requirement="mfa",
                     version=2)  # fmt: skip
    assert older.state == "missing"


def test_controller_audit_needs_a_recent_audit_with_no_overdue_finding() -> None:
    params = {"max_age_days": 365}
    assert controller_audit(_facts(), params).state == "missing"
    fresh = InspectionFacts(1, date(2026, 9, 1), 0, 9)
    assert controller_audit(_facts(inspections=(fresh,)), params).met
    late = InspectionFacts(1, date(2026, 9, 1), 2, 9)
    assert controller_audit(_facts(inspections=(late,)), params).reasons == (
        "2 finding(s) open past their deadline",
    )
    old = InspectionFacts(1, date(2025, 9, 1), 0, 9)
    assert controller_audit(_facts(inspections=(old,)), params).reasons == (
        "last audit 2025-09-01 is 555 days old",
    )
