"""The table of job kinds: every kind of background work a worker knows how to run."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from vigie.jobs import authority, notices, periodic, tasks
from vigie.jobs.context import JobContext
from vigie.public import tasks as public

Run = Callable[[JobContext, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Kind:
    """A kind of job: its name (``domain.verb``), what runs it, and what it does."""

    name: str
    run: Run
    summary: str


KINDS: Mapping[str, Kind] = MappingProxyType(
    {
        kind.name: kind
        for kind in (
            Kind(
                tasks.LEAK_ANALYZE,
                tasks.run_leak_analysis,
                "Triage leaked files (`vigie leak analyze`); the result names the stored report.",
            ),
            Kind(
                tasks.AUDIT_VERIFY,
                tasks.run_audit_verification,
                "Verify the whole audit trail (`vigie audit verify`), progress in events.",
            ),
            Kind(
                public.SELF_CHECK,
                public.run_self_check,
                'Answer "was I affected?" at the contact on file (public service).',
            ),
            Kind(
                public.REPORT,
                public.run_report,
                "Send a disclosure report's one-time link to the contact on file (public service).",
            ),
            Kind(
                periodic.RETENTION_RUN,
                periodic.run_retention,
                "Purge what is past its retention period (`vigie retention run`); scheduled.",
            ),
            Kind(
                periodic.SIEM_PUSH,
                periodic.run_siem_push,
                "Send the SIEM sinks the events they are owed (`vigie siem push`); scheduled.",
            ),
            Kind(
                periodic.AUDIT_CHECKPOINT,
                periodic.run_checkpoint,
                "Sign an audit checkpoint if one is due; scheduled.",
            ),
            Kind(
                periodic.REQUIREMENTS_ENFORCE,
                periodic.run_requirements,
                "Warn and apply overdue requirement consequences (`vigie requirements "
                "enforce`); scheduled.",
            ),
            Kind(
                notices.NOTIFY,
                notices.run_notice_campaign,
                "Send an incident's notices (`vigie incident notify`), progress in people.",
            ),
            Kind(
                authority.AUTHORITY_PACK,
                authority.run_authority_pack,
                "Prepare an incident's authority pack (`vigie incident authority-pack`) behind "
                "the evidence gate, progress in events verified.",
            ),
        )
    }
)
