"""The operators' roles, and what each may do.

- ``dpo``: everything (incidents' decisions: the override, the authority pack, notices,
  the public page).
- ``security``: processors, keys, alerts, containment (an incident's measures), leak
  analysis.
- ``auditor``: reads (the audit trail, reports, incidents, the register); changes nothing.

Every console route declares what it needs (:class:`Need`) in the table of
:mod:`vigie.console.routes`: nothing (the sign-in page), a session half-way through
sign-in (the second factor), any session (sign-out), a full session changing only the
operator's own account and preferences (``own``: security keys, language), or a role's
grant (``read``, ``processors``, ``alerts``, ``leaks``, ``audit``, ``dossier``,
``incidents``, ``containment``). The tests try every route of the app with every role.
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
    OWN = "own"
    """A full session, of any role, changing only the operator's own account and
    preferences (security keys, language)."""
    READ = "read"
    PROCESSORS = "processors"
    ALERTS = "alerts"
    LEAKS = "leaks"
    """Upload a leaked file for analysis; open an incident from an analysis."""
    AUDIT = "audit"
    """Run a verification of the trail; export it (both recorded in the trail)."""
    INCIDENTS = "incidents"
    """An incident's decisions: override, authority pack, notices, public page."""
    CONTAINMENT = "containment"
    """Containment measures recorded on an incident."""
    DOSSIER = "dossier"
    """Build a processor's sanction dossier (the DPO's decision)."""


GRANTS: dict[Need, frozenset[Role]] = {
    Need.READ: frozenset(Role),
    Need.PROCESSORS: frozenset({Role.DPO, Role.SECURITY}),
    Need.ALERTS: frozenset({Role.DPO, Role.SECURITY}),
    Need.LEAKS: frozenset({Role.DPO, Role.SECURITY}),
    Need.AUDIT: frozenset({Role.DPO, Role.SECURITY}),
    Need.DOSSIER: frozenset({Role.DPO}),
    Need.INCIDENTS: frozenset({Role.DPO}),
    Need.CONTAINMENT: frozenset({Role.DPO, Role.SECURITY}),
    Need.OWN: frozenset(Role),
}


def check(role: str, need: Need) -> None:
    """Raise :class:`Denied` unless ``role`` grants ``need`` (one of :data:`GRANTS`)."""
    if Role.parse(role) not in GRANTS.get(need, frozenset()):
        raise Denied(f"the {role} role may not do this")
