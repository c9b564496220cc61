"""`vigie siem`: send the audit trail's security events to the controller's SIEM."""

from __future__ import annotations

import typer

from vigie.cli.context import console, instance, print_json
from vigie.errors import ConfigError, VigieError

group = typer.Typer(
    help="The SIEM export: alerts, suspensions, incidents and operator actions as OCSF "
    "events, at least once (docs/operations.md).",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


class SiemUnreachable(VigieError):
    """The SIEM did not take the events; they are sent again by the next push."""


@group.command("push")
def push_command(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
) -> None:
    """Send VIGIE_SIEM_URL every exported audit event it has not received yet, in order.

    The audit trail is the outbox: a SIEM that is down loses nothing, the next push sends
    what it missed. Events carry their audit sequence number as `metadata.uid`: a push
    interrupted after sending may send a batch again, so receivers dedupe on it. Run it
    every minute (a systemd timer or cron); exits 1 when the SIEM did not answer.

    Example: `VIGIE_SIEM_URL=syslog+tcp://siem.internal:6514 vigie siem push`
    """
    from vigie.ops.siem import push, sink_from_url

    inst = instance(ctx)
    url = inst.settings.siem_url
    if not url:
        raise ConfigError("set VIGIE_SIEM_URL to the SIEM's address first")
    sink = sink_from_url(url)
    try:
        report = push(inst.sessions, sink)
    except OSError as exc:
        raise SiemUnreachable(
            f"{sink.name} did not take the events ({type(exc).__name__}); nothing is lost, "
            "the next push sends them"
        ) from None
    if as_json:
        print_json({"sink": sink.name, "sent": report.sent, "last_seq": report.last_seq})
        return
    console.print(
        f"{report.sent} event(s) sent to {sink.name}; up to audit event {report.last_seq}.",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add ``vigie siem`` to ``app``."""
    app.add_typer(group, name="siem")
