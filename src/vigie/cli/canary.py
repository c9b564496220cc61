"""`vigie canary`: report that someone contacted a canary (a trip)."""

from __future__ import annotations

import typer

from vigie.cli.context import console, instance, print_json
from vigie.cli.processors import operator

group = typer.Typer(
    help="Canaries: synthetic people in every processor's scope. Nobody has a reason to "
    "write to a canary's e-mail address or call its number unless they hold leaked data.\n\n"
    "Report a contact with `vigie canary trip --contact VALUE`, or let the mail/SMS "
    "gateway call the webhook `POST /hooks/canary` (token: `vigie canary webhook-secret`).",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


@group.command("trip")
def trip_command(
    ctx: typer.Context,
    contact: str = typer.Option(
        ..., help="The e-mail address or phone number that was contacted (any format)."
    ),
    source: str | None = typer.Option(
        None, help="Where the contact was seen (e.g. 'SMS gateway', 'phishing mail')."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Record a canary trip: raise a critical alert on every processor that had the canary.

    Each such processor is suspended at once (all its keys) and an incident is opened with
    the evidence (which canary, when it was disclosed to that processor).
    """
    from vigie.audit.anchors import Bound
    from vigie.detection.notify import deliver_pending, notifier_from_settings
    from vigie.fingerprint.trips import trip

    inst = instance(ctx)
    with inst.session() as session:
        result = trip(
            session,
            contact=contact,
            source=source,
            actor=operator(),
            public_key=inst.secrets.audit_keys,
            bound=Bound.of(inst.settings),
        )
    with inst.session() as session:
        deliver_pending(session, notifier=notifier_from_settings(inst.settings, inst.secrets))
    if as_json:
        print_json(result.as_dict())
        return
    who = ", ".join(result.processors) or "no processor (the controller's side?)"
    console.print(
        f"[bold red]Canary trip[/] ({result.channel}) on {', '.join(result.canaries)}: "
        f"critical alert(s) {', '.join(map(str, result.alert_ids))} — {who}."
    )


@group.command("webhook-secret")
def webhook_secret_command(ctx: typer.Context) -> None:
    """Print the bearer token the canary webhook `POST /hooks/canary` accepts."""
    from vigie.fingerprint.trips import webhook_token

    typer.echo(webhook_token(instance(ctx).secrets))


def register(app: typer.Typer) -> None:
    """Add `vigie canary` to ``app``."""
    app.add_typer(group, name="canary")
