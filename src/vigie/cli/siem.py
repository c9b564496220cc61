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
    """Send VIGIE_SIEM_URL and VIGIE_SIEM_WEBHOOK_URL every exported audit event each has not
    received yet, in order.

    The audit trail is the outbox: a SIEM that is down loses nothing, the next push sends
    what it missed. Events carry their audit sequence number as `metadata.uid`: a push
    interrupted after sending may send a batch again, so receivers dedupe on it. Each sink
    has its own cursor; one that is down does not hold back the other. The worker runs
    it every VIGIE_SCHEDULE_SIEM_PUSH_SECONDS; exits 1 when a sink did not answer.

    Example: `VIGIE_SIEM_URL=syslog+tcp://siem.internal:6514 vigie siem push`
    """
    from vigie.ops.siem import push, sinks_from_settings

    inst = instance(ctx)
    sinks = sinks_from_settings(inst.settings, inst.secrets)
    if not sinks:
        raise ConfigError(
            "set VIGIE_SIEM_URL or VIGIE_SIEM_WEBHOOK_URL to the SIEM's address first"
        )
    outcomes: list[dict[str, object]] = []
    failed: list[str] = []
    for sink in sinks:
        try:
            report = push(inst.sessions, sink)
        except OSError as exc:
            failed.append(f"{sink.name} did not take the events ({type(exc).__name__})")
            continue
        outcomes.append({"sink": sink.name, "sent": report.sent, "last_seq": report.last_seq})
    if as_json:
        print_json({"sinks": outcomes, "failed": failed})
    else:
        for o in outcomes:
            console.print(
                f"{o['sent']} event(s) sent to {o['sink']}; up to audit event {o['last_seq']}.",
                highlight=False,
            )
    if failed:
        raise SiemUnreachable("; ".join(failed) + "; nothing is lost, the next push sends them")


@group.command("webhook-secret")
def webhook_secret_command(ctx: typer.Context) -> None:
    """Print the key that signs the SIEM webhook (header `X-Vigie-Signature: sha256=HMAC`).

    Give it to the SIEM's webhook receiver so it can check each POST came from this
    instance. After `vigie secrets rotate webhook` this prints the new key; the old one
    signs too during VIGIE_WEBHOOK_ROTATION_OVERLAP_HOURS.
    """
    from vigie.ops.webhooks import PURPOSES

    typer.echo(instance(ctx).secrets.derive(PURPOSES["siem"]).hex())


def register(app: typer.Typer) -> None:
    """Add ``vigie siem`` to ``app``."""
    app.add_typer(group, name="siem")
