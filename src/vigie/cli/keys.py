"""`vigie keys`: issue, list and revoke processors' API keys."""

from __future__ import annotations

from dataclasses import asdict

import typer
from rich.table import Table

from vigie.cli.context import console, instance, print_json
from vigie.cli.processors import operator
from vigie.processors.keys import issue_key, list_keys, parse_duration, revoke_key
from vigie.store.base import utcnow

group = typer.Typer(
    help="API keys of processors. A key is shown once, when issued, and stored only as a "
    "hash: keep it in the processor's secret store straight away.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


@group.command("issue")
def issue(
    ctx: typer.Context,
    processor: str = typer.Argument(..., help="The processor's handle."),
    expires_in: str | None = typer.Option(
        None,
        "--expires-in",
        help="Lifetime, e.g. `30d`, `12h`, `2w`, `1d12h` (s, m, h, d, w). Default: no expiry.",
    ),
    allow_ip: list[str] = typer.Option(  # noqa: B008 (typer declares options this way)
        [],
        "--allow-ip",
        help="Address or CIDR the key may be used from; repeat for several. Default: any.",
    ),
    note: str | None = typer.Option(None, help="A label for the key (e.g. where it is used)."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON (the key included)."),
) -> None:
    """Issue an API key to a processor and print it, once.

    The key reads `vgk_<prefix>_<secret>`; Vigie keeps only the prefix and a SHA-256 of
    the secret, so a lost key cannot be shown again: revoke it and issue another.
    """
    inst = instance(ctx)
    lifetime = parse_duration(expires_in) if expires_in else None
    with inst.session() as session:
        issued = issue_key(
            session,
            processor=processor,
            actor=operator(),
            expires_in=lifetime,
            allowed_cidrs=allow_ip,
            note=note,
        )
    if as_json:
        data = asdict(issued)
        print_json(data)
        return
    expiry = issued.expires_at.isoformat() if issued.expires_at else "never"
    where = ", ".join(issued.allowed_cidrs) or "any address"
    console.print(
        f"[bold]API key {issued.key_id} for {issued.processor}[/bold] "
        "(shown once: store it now, it cannot be shown again):",
        highlight=False,
    )
    console.print(issued.token, markup=False, highlight=False, soft_wrap=True)
    console.print(f"expires: {expiry}; allowed from: {where}", highlight=False, soft_wrap=True)


@group.command("list")
def list_(
    ctx: typer.Context,
    processor: str | None = typer.Option(None, help="Only this processor's keys."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """List API keys (id, processor, prefix, status, expiry, allowed addresses); never secrets."""
    inst = instance(ctx)
    with inst.session() as session:
        keys = list_keys(session, now=utcnow(), processor=processor)
    if as_json:
        print_json([asdict(k) for k in keys])
        return
    table = Table(title="API keys")
    for column in ("id", "processor", "prefix", "status", "created", "expires", "allowed", "note"):
        table.add_column(column)
    colours = {"active": "green", "expired": "dim", "revoked": "red", "suspended": "red"}
    for k in keys:
        table.add_row(
            str(k.id),
            k.processor,
            k.prefix,
            f"[{colours[k.status]}]{k.status}[/{colours[k.status]}]",
            k.created_at.strftime("%Y-%m-%d %H:%M"),
            k.expires_at.strftime("%Y-%m-%d %H:%M") if k.expires_at else "never",
            ", ".join(k.allowed_cidrs) or "any",
            k.note or "",
        )
    console.print(table)


@group.command("revoke")
def revoke(
    ctx: typer.Context,
    key_id: int = typer.Argument(..., metavar="ID", help="The key's id (see `vigie keys list`)."),
) -> None:
    """Revoke an API key for good; requests with it are refused from now on."""
    inst = instance(ctx)
    with inst.session() as session:
        key = revoke_key(session, key_id=key_id, actor=operator())
    console.print(f"API key {key.id} revoked.", highlight=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.add_typer(group, name="keys")
