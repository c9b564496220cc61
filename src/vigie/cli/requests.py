"""`vigie requests`: what people asked the public service, for the DPO."""

from __future__ import annotations

import typer
from rich.table import Table
from sqlalchemy import select

from vigie.audit import trail
from vigie.audit.actions import Action
from vigie.cli.context import console, instance, print_json
from vigie.errors import NotFound
from vigie.public.report_letters import ReportLetters, print_report
from vigie.public.report_links import list_requests
from vigie.registry.models import Subject
from vigie.store.base import utcnow

ACTOR = "operator:cli"

group = typer.Typer(
    help="Requests people made to the public service.\n\n"
    'A disclosure report ("who saw my file?") is sent as a one-time link to the contact '
    "on file, or printed as a letter to the postal address on file; each request shows "
    "the person's `ref`, the channel, the language, when it was sent, until when a link "
    "works and when it was opened. Requests and deliveries are audited "
    "(`public:report-request`, `public:report-deliver`). See docs/public.md.",
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
            (row["expires_at"] or "—")[:19].replace("T", " "),
            (row["opened_at"] or "—")[:19].replace("T", " "),
        )
    console.print(table)


@group.command("letter")
def letter_command(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="The person's reference in the registry."),
    lang: str = typer.Option(
        "", "--lang", help="Language of the letter (default: the person's own)."
    ),
) -> None:
    """Print a person's disclosure report as a letter to their postal address on file.

    For a request that came by post or at the counter: the letter goes into the letters
    outbox (`OUTBOX/letters-reports/report-ID.pdf`), each line with its audit references
    and its checked inclusion proof. Audited (`public:report-request`,
    `public:report-deliver`).
    """
    inst = instance(ctx)
    outbox = ReportLetters.from_settings(inst.settings)
    with inst.sessions() as session:
        person = session.scalar(select(Subject).where(Subject.ref == ref))
        if person is None:
            raise NotFound(f"no person with reference {ref!r}")
        request_id = print_report(
            session,
            person=person,
            lang=lang,
            settings=inst.settings,
            outbox=outbox,
            now=utcnow,
            contact_tag=None,
        )
        trail.append(
            session,
            action=Action.PUBLIC_REPORT_REQUEST,
            actor=ACTOR,
            subject_ids=[person.id],
            detail={"channel": "letter", "delivery": "letter", "people": 1,
                    "requests": [request_id]},
        )  # fmt: skip
        session.commit()
    console.print(f"Letter printed: {outbox.directory / f'report-{request_id}.pdf'}")


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="requests")
