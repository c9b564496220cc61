"""``vigie retention run``: purge what is past its retention period."""

from __future__ import annotations

import typer

from vigie.cli.context import console, instance, print_json
from vigie.cli.processors import operator
from vigie.ops.retention import run_retention

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
    """Purge stored leak files, notice delivery records, unattached alerts' evidence and
    finished jobs past their periods; record `retention:purge` (counts only) in the trail.

    Never deletes an audit event. Run it daily (deploy/systemd/vigie-retention.timer).
    """
    inst = instance(ctx)
    with inst.session() as session:
        purge = run_retention(session, settings=inst.settings, actor=operator(), dry_run=dry_run)
    if as_json:
        print_json({"dry_run": purge.dry_run, "counts": purge.counts})
        return
    verb = "would purge" if purge.dry_run else "purged"
    for kind, count in purge.counts.items():
        console.print(f"{verb} {count:>8,} {kind.replace('_', ' ')}")
    console.print("audit events are never purged")
