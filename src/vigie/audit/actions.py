"""Every kind of audit event, as ``"domain:action"`` tags.

Each member's docstring is its documentation; ``docs/audit.md`` lists them and a test
fails when one is missing there. Add a member (with its one-line docstring) when a new
kind of event appears; never rename or reuse a tag — old events keep their meaning.
"""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    """The kinds of audit events."""

    SUBJECT_READ = "subject:read"
    """A processor read one person through the gateway."""
    SUBJECT_LIST = "subject:list"
    """A processor read a page of people through the gateway."""
    SUBJECT_WRITE = "subject:write"
    """A processor wrote back allowed fields (e.g. course attendance) for one person."""
    SUBJECT_IMPORT = "subject:import"
    """An operator imported people into the registry (counts only, no values)."""
    SUBJECT_EXPORT = "subject:export"
    """An operator exported people from the registry."""
    SUBJECT_SYNTH = "subject:synth"
    """A synthetic population was generated into the registry."""
    ACCESS_DENIED = "access:denied"
    """The gateway refused a request (bad key, out of scope, suspended, budget, rate)."""
    PROCESSOR_CREATE = "processor:create"
    """An operator created a processor."""
    PROCESSOR_UPDATE = "processor:update"
    """An operator changed a processor's details."""
    PROCESSOR_SUSPEND = "processor:suspend"
    """A processor was suspended (by an operator, or automatically by detection)."""
    PROCESSOR_REINSTATE = "processor:reinstate"
    """An operator lifted a processor's suspension, with a reason."""
    CONTRACT_CREATE = "contract:create"
    """An operator created a contract."""
    CONTRACT_UPDATE = "contract:update"
    """An operator changed a contract (fields, masks, budgets, dates)."""
    CONTRACT_DELETE = "contract:delete"
    """An operator removed a contract."""
    ASSIGNMENT_CHANGE = "assignment:change"
    """People were assigned to or removed from a contract's scope (counts and ids)."""
    KEY_ISSUE = "key:issue"
    """An operator issued an API key to a processor."""
    KEY_REVOKE = "key:revoke"
    """An operator revoked an API key."""
    KEY_SUSPEND = "key:suspend"
    """An API key was suspended automatically by detection."""
    ALERT_RAISE = "alert:raise"
    """A detector raised an alert, with its evidence."""
    CANARY_TRIP = "canary:trip"
    """Someone contacted a canary's e-mail address or phone number."""
    LEAK_ANALYZE = "leak:analyze"
    """An operator analysed a leaked file (counts and verdict only)."""
    LEAK_PURGE = "leak:purge"
    """Stored leak files and reports were purged."""
    INCIDENT_OPEN = "incident:open"
    """An incident was opened (from an alert, a leak, a canary trip, or by hand)."""
    INCIDENT_DECIDE = "incident:decide"
    """A decision was recorded on an incident (risk, notification, measure)."""
    INCIDENT_NOTIFY = "incident:notify"
    """Notices to affected people were sent for an incident."""
    AUDIT_CHECKPOINT = "audit:checkpoint"
    """A signed checkpoint of the trail was taken."""
    AUDIT_EXPORT = "audit:export"
    """The trail was exported for independent verification."""
