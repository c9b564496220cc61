"""The table of job kinds: every kind of background work a worker knows how to run."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from vigie.jobs import notices, tasks
from vigie.jobs.context import JobContext

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
                notices.NOTIFY,
                notices.run_notice_campaign,
                "Send an incident's notices (`vigie incident notify`), progress in people.",
            ),
        )
    }
)
