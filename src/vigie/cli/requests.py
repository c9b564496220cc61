"""`vigie requests`: what people asked the public service, for the DPO."""

from __future__ import annotations

import typer
from rich.table import Table

from vigie.cli.context import console, instance, print_json
from vigie.public.report_links import list_requests

group = typer.Typer(
    help="Requests people made to the public service.\n\n"
    'A disclosure report ("who saw my file?") is sent as a one-time link to the contact '
    "on file; each request shows the person's `ref`, the channel, the language, when the "
    "link was sent, until when it works and when it was opened. Requests and openings are "
    "audited (`public:report-request`, `public:report-deliver`). See docs/public.md.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


@group.command("list")
def list_command(
    ctx: typer.Context,
    limit: int = typer.Option(100, min=1, help="Show at most this many (newest first)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List disclosure-report requests, newest first."""
    inst = instance(ctx)
    with inst.session() as session:
        rows = list_requests(session, limit=limit)
    if as_json:
        print_json(list(rows))
        return
    if not rows:
        console.print("No requests.")
        return
    table = Table("id", "ref", "channel", "lang", "sent (UTC)", "expires (UTC)", "opened (UTC)")
    for row in rows:
        table.add_row(
            str(row["id"]),
            row["ref"],
            row["channel"],
            row["lang"],
            (row["sent_at"] or "not sent")[:19].replace("T", " "),
            row["expires_at"][:19].replace("T", " "),
            (row["opened_at"] or "—")[:19].replace("T", " "),
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="requests")
