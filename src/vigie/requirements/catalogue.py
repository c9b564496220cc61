"""What a requirement can check, by kind, and what each check's parameters are.

A requirement's *meaning* is its ``kind`` and ``check``: a requirement id keeps them for
ever (a new version may change the text, the parameters, the deadline and the
consequence, never what is checked).

- **enforced**: Vigie checks it continuously from what it holds
  (:mod:`vigie.requirements.checks`);
- **attested**: the processor states it, with evidence and an expiry
  (:mod:`vigie.requirements.attestations`);
- **checked**: the controller's own audit (:mod:`vigie.requirements.inspections`).
"""

from __future__ import annotations

KINDS = ("enforced", "attested", "checked")

CONSEQUENCES = ("warn", "refuse_new_keys", "reduce_budget", "suspend")
"""What happens after the deadline to a processor that does not meet the requirement."""

# check -> {parameter: type}; every parameter listed is required.
ENFORCED: dict[str, dict[str, type]] = {
    "key-expiry": {"max_days": int},
    "key-allow-list": {},
    "unused-keys": {"max_idle_days": int},
    "normal-volume": {},
    "security-contacts": {},
    "budget-ratio": {"max_ratio": float},
}
ATTESTED = (
    "mfa",
    "workstation-encryption",
    "staff-training",
    "sub-processors",
    "certification",
    "deletion-at-end",
    "breach-notification",
)
"""Attested topics; their parameters are free (e.g. ``max_hours`` of breach-notification)."""
CHECKED: dict[str, dict[str, type]] = {"controller-audit": {"max_age_days": int}}


def known_checks(kind: str) -> tuple[str, ...]:
    """The checks a requirement of ``kind`` may name."""
    if kind == "enforced":
        return tuple(ENFORCED)
    if kind == "attested":
        return ATTESTED
    return tuple(CHECKED)


def parameter_problems(kind: str, check: str, parameters: dict[str, object]) -> list[str]:
    """What is wrong with ``parameters`` for this check (empty when nothing)."""
    if kind == "attested":
        return []
    wanted = (ENFORCED if kind == "enforced" else CHECKED).get(check, {})
    problems = []
    for name, typ in wanted.items():
        value = parameters.get(name)
        ok = (
            isinstance(value, int | float) and not isinstance(value, bool) and value > 0
            if typ is float
            else isinstance(value, int) and not isinstance(value, bool) and value > 0
        )
        if not ok:
            problems.append(f"{name}: a positive {'number' if typ is float else 'integer'}")
    for name in sorted(set(parameters) - set(wanted)):
        problems.append(f"{name}: unknown parameter of {check!r}")
    return problems
