"""``vigie retention run``: purge what is past its retention period."""

from __future__ import annotations

import typer

from vigie.cli.context import console, instance, print_json
from vigie.cli.processors import operator

group = typer.Typer(
    help="Retention: each kind of data is kept for a period set in the settings "
    "(VIGIE_RETENTION_*, VIGIE_LEAK_RETENTION_DAYS; docs/retention.md), then purged.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


def register(app: typer.Typer) -> None:
    """Add the ``retention`` group to ``app``."""
    app.add_typer(group, name="retention")


@group.command("run")
def run(
    ctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help="Count what is due; purge nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print the counts as JSON."),
) -> None:
    """Purge stored leak files, notice delivery records, unattached alerts' evidence,
    finished jobs and the public service's messages past their periods, and prune the
    people out of audit disclosures past VIGIE_RETENTION_AUDIT_DAYS; record
    `retention:purge` (counts only) in the trail.

    Never deletes an audit event: a pruned disclosure keeps its leaf, so every proof and
    checkpoint stays valid (`audit:prune`). Nothing of the trail is pruned while an
    incident is open. The workers run it daily (VIGIE_SCHEDULE_RETENTION_SECONDS).
    """
    inst = instance(ctx)
    with inst.session() as session:
        from vigie.ops.retention import run_retention  # the leak vault's DuckDB: only here

        purge = run_retention(session, settings=inst.settings, actor=operator(), dry_run=dry_run)
    if as_json:
        audit = None if purge.audit is None else purge.audit.to_json()
        print_json({"dry_run": purge.dry_run, "counts": purge.counts, "audit": audit})
        return
    verb = "would purge" if purge.dry_run else "purged"
    for kind, count in purge.counts.items():
        console.print(f"{verb} {count:>8,} {kind.replace('_', ' ')}")
    if purge.audit is not None and purge.audit.held:
        console.print(f"audit trail: nothing pruned, held by {purge.audit.held}")
    elif purge.audit is not None and purge.audit.events:
        console.print(
            f"audit trail: disclosures up to event {purge.audit.through:,} "
            f"{'would lose' if purge.dry_run else 'lost'} their people; every leaf is kept"
        )
