"""The operators' roles, and what each may do.

- ``dpo``: everything.
- ``security``: processors, keys, alerts, containment, leak analysis.
- ``auditor``: reads (the audit trail, reports); changes nothing.

Every console route declares what it needs (:class:`Need`) in the table of
:mod:`vigie.console.routes`: nothing (the sign-in page), a session half-way through
sign-in (the second factor), any session (sign-out), or a role's grant (``read``,
``processors``, ``alerts``, ``leaks``, ``audit``). The tests try every route of the app
with every role.
"""

from __future__ import annotations

from enum import StrEnum

from vigie.errors import Denied, InvalidInput


class Role(StrEnum):
    """An operator's role."""

    DPO = "dpo"
    SECURITY = "security"
    AUDITOR = "auditor"

    @classmethod
    def parse(cls, value: str) -> Role:
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(r.value for r in cls)
            raise InvalidInput(f"unknown role {value!r} (one of: {names})") from None


class Need(StrEnum):
    """What a route needs of the operator's role."""

    PUBLIC = "public"
    """No session: the sign-in page."""
    SECOND_FACTOR = "second-factor"
    """A session whose password was right and whose second factor is due."""
    SESSION = "session"
    """Any session, of any role (sign-out: it changes only the operator's own session)."""
    READ = "read"
    PROCESSORS = "processors"
    ALERTS = "alerts"
    LEAKS = "leaks"
    """Upload a leaked file for analysis; open an incident from an analysis."""
    AUDIT = "audit"
    """Run a verification of the trail; export it (both recorded in the trail)."""


GRANTS: dict[Need, frozenset[Role]] = {
    Need.READ: frozenset(Role),
    Need.PROCESSORS: frozenset({Role.DPO, Role.SECURITY}),
    Need.ALERTS: frozenset({Role.DPO, Role.SECURITY}),
    Need.LEAKS: frozenset({Role.DPO, Role.SECURITY}),
    Need.AUDIT: frozenset({Role.DPO, Role.SECURITY}),
}


def check(role: str, need: Need) -> None:
    """Raise :class:`Denied` unless ``role`` grants ``need`` (one of :data:`GRANTS`)."""
    if Role.parse(role) not in GRANTS.get(need, frozenset()):
        raise Denied(f"the {role} role may not do this")
