"""``vigie init``: create or upgrade the database and the instance secrets."""

from __future__ import annotations

import typer

from vigie.cli.context import console, instance
from vigie.instance import initialise


def register(app: typer.Typer) -> None:
    app.command("init")(init)


def init(ctx: typer.Context) -> None:
    """Create the data directory, the instance secrets (mode 0600) and the database schema.

    Safe to run again: it upgrades the schema to the latest migration and never replaces
    an existing secret.
    """
    inst = instance(ctx)
    report = initialise(inst.settings, inst.engine)
    for name in report.created_secrets:
        console.print(f"created secret [bold]{name}[/] in {inst.settings.resolved_secrets_dir}")
    console.print(f"database ready at revision {report.revision}: {report.database}")
