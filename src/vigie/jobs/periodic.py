"""The work of the periodic jobs the scheduler queues (:mod:`vigie.jobs.schedule`).

Each is the same library call as its CLI command, run as ``system:scheduler``:

- ``retention.run``: ``vigie retention run`` (purges what is past its period, audited);
- ``siem.push``: ``vigie siem push`` to every configured sink (at least once, cursors);
- ``audit.checkpoint``: signs a checkpoint when one is due by the checkpointer's rule
  (``vigie serve`` does it on a timer; a lone ``vigie worker`` host needs this);
- ``requirements.enforce``: ``vigie requirements enforce`` (warnings and consequences,
  once per state: a second run changes nothing).
"""

from __future__ import annotations

from typing import Any

from vigie.jobs.context import JobContext
from vigie.store.base import utcnow

RETENTION_RUN = "retention.run"
SIEM_PUSH = "siem.push"
AUDIT_CHECKPOINT = "audit.checkpoint"
REQUIREMENTS_ENFORCE = "requirements.enforce"


def run_retention(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Purge what is past its retention period; the counts per kind."""
    from vigie.ops.retention import run_retention as purge

    with ctx.sessions.begin() as session:
        done = purge(session, settings=ctx.settings, actor=ctx.actor)
    return {"counts": dict(done.counts)}


def run_siem_push(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Send every configured SIEM sink what it is owed; a sink that is down fails the job
    (nothing is lost: the next run sends it), after the others were tried."""
    from vigie.errors import VigieError
    from vigie.ops.siem import push, sinks_from_settings

    sent: dict[str, int] = {}
    failed: list[str] = []
    for sink in sinks_from_settings(ctx.settings, ctx.secrets):
        try:
            sent[sink.name] = push(ctx.sessions, sink).sent
        except OSError as exc:
            failed.append(f"{sink.name}: {type(exc).__name__}")
    if failed:
        raise VigieError(
            "SIEM sink(s) did not take the events, sent next time: " + "; ".join(failed)
        )
    return {"sent": sent}


def run_checkpoint(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Sign a checkpoint if one is due (events or time since the last one)."""
    from vigie.audit.checkpoints import Checkpointer

    taken = Checkpointer.from_settings(ctx.settings, ctx.sessions, ctx.secrets).maybe_checkpoint()
    return {"checkpoint": None if taken is None else taken.id}


def run_requirements(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Warn before deadlines and apply overdue consequences, once each."""
    from vigie.requirements.enforce import enforce

    with ctx.sessions.begin() as session:
        done = enforce(session, now=utcnow())
    return {"actions": len(done)}
