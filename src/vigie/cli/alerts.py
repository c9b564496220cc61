"""`vigie alerts`: what the detectors raised, and delivering alerts to the DPO."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from vigie.cli.context import console, instance, print_json
from vigie.cli.processors import operator
from vigie.detection.alerts import acknowledge_alert, alert_dict, escalate_alert, list_alerts
from vigie.detection.findings import Severity
from vigie.detection.notify import deliver_pending, notifier_from_settings, webhook_key
from vigie.errors import InvalidInput
from vigie.processors.directory import get_processor
from vigie.processors.models import Processor

group = typer.Typer(
    help="Alerts raised by detection (bulk extraction, sweeps, probing, canary trips…).\n\n"
    "Each alert carries its evidence (audit sequence range, the figures that tripped it) "
    "and the containment applied: `alert`, `throttle`, `suspend_key` or "
    "`suspend_processor`. A suspension is lifted only by `vigie processors reinstate` "
    "with a reason. See docs/detection.md.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

STYLE = {"low": "cyan", "medium": "yellow", "high": "red", "critical": "bold red"}


@group.command("list")
def list_command(
    ctx: typer.Context,
    processor: str | None = typer.Option(None, help="Only this processor's alerts (its name)."),
    severity: Annotated[
        Severity | None, typer.Option(help="Only alerts of at least this severity.")
    ] = None,
    since: Annotated[
        datetime | None,
        typer.Option(help="Only alerts raised since this UTC date or time (e.g. 2026-03-02)."),
    ] = None,
    limit: int = typer.Option(100, min=1, help="Show at most this many (newest first)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List alerts, newest first, with their containment and incident."""
    inst = instance(ctx)
    with inst.session() as session:
        pid = get_processor(session, name=processor).id if processor else None
        since_utc = since.replace(tzinfo=since.tzinfo or UTC) if since else None
        alerts = list_alerts(
            session, processor_id=pid, min_severity=severity, since=since_utc, limit=limit
        )
        names = {p.id: p.name for p in session.query(Processor)}
        rows = [alert_dict(a, processor=names.get(a.processor_id or -1)) for a in alerts]
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("No alerts.")
        return
    table = Table(
        "id",
        "raised (UTC)",
        "severity",
        "detector",
        "processor",
        "containment",
        "incident",
        "summary",
    )
    for row in rows:
        table.add_row(
            str(row["id"]),
            row["raised_at"][:19].replace("T", " "),
            f"[{STYLE[row['severity']]}]{row['severity']}[/]",
            row["detector"],
            row["processor"] or "—",
            row["containment"],
            str(row["incident_id"] or "—"),
            row["summary"],
        )
    console.print(table)


@group.command("notify")
def notify_command(ctx: typer.Context) -> None:
    """Send alerts not yet delivered by e-mail and webhook (retries earlier failures).

    Channels come from the settings: `VIGIE_ALERT_EMAIL_TO` (with `VIGIE_SMTP_*`) and
    `VIGIE_ALERT_WEBHOOK_URL`. The gateway delivers on its own after each alert; run this
    after an outage of the mail server or the webhook receiver.
    """
    inst = instance(ctx)
    settings = inst.settings
    if not (settings.alert_email_to or settings.alert_webhook_url):
        raise InvalidInput(
            "no channel configured: set VIGIE_ALERT_EMAIL_TO or VIGIE_ALERT_WEBHOOK_URL"
        )
    notifier = notifier_from_settings(settings, inst.secrets)
    with inst.session() as session:
        sent = deliver_pending(session, notifier=notifier)
    console.print(f"{sent} alert(s) delivered.")


@group.command("webhook-secret")
def webhook_secret_command(ctx: typer.Context) -> None:
    """Print the key that signs alert webhooks (header `X-Vigie-Signature: sha256=HMAC`).

    Give it to the webhook receiver so it can check each POST came from this instance.
    """
    typer.echo(webhook_key(instance(ctx).secrets).reveal().hex())


@group.command("acknowledge")
def acknowledge_command(
    ctx: typer.Context,
    alert_id: int = typer.Argument(..., help="The alert's id (see `vigie alerts list`)."),
    note: str = typer.Option("", "--note", help="What is being done about it (audited)."),
) -> None:
    """Acknowledge an alert: seen and taken in hand. Containment is left as it is."""
    with instance(ctx).session() as session:
        acknowledge_alert(session, alert_id=alert_id, actor=operator(), note=note)
    console.print(f"Alert #{alert_id} acknowledged.", highlight=False)


@group.command("escalate")
def escalate_command(
    ctx: typer.Context,
    alert_id: int = typer.Argument(..., help="The alert's id (see `vigie alerts list`)."),
    reason: str = typer.Option(
        ..., "--reason", help="Why this alert is a breach to handle (audited, required)."
    ),
) -> None:
    """Escalate an alert to an incident by hand (a low alert opens none on its own).

    The alert joins its processor's open incident, or opens one whose 72-hour clock
    starts now. Refused for an alert already attached to an incident.
    """
    with instance(ctx).session() as session:
        alert = escalate_alert(session, alert_id=alert_id, actor=operator(), reason=reason)
        incident_id = alert.incident_id
    console.print(f"Alert #{alert_id} escalated to incident {incident_id}.", highlight=False)


def register(app: typer.Typer) -> None:
    """Add `vigie alerts` to ``app``."""
    app.add_typer(group, name="alerts")
