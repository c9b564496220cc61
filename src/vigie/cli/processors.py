"""`vigie processors`: contracts as code, the list of processors, suspension."""

from __future__ import annotations

import getpass
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from vigie.cli.applied import print_summary, show
from vigie.cli.context import console, err_console, instance, print_json
from vigie.processors.apply import ApplyResult, Change, apply_file
from vigie.processors.assignments import import_assignments
from vigie.processors.directory import summarise
from vigie.processors.spec import SpecRejected, format_problem
from vigie.processors.status import reinstate_processor, suspend_processor
from vigie.store.base import utcnow

group = typer.Typer(
    help="Processors (subcontractors) and their contracts, kept as code in a YAML file.\n\n"
    "Write the file (see docs/processors.md), preview with `vigie processors apply FILE "
    "--dry-run`, then apply it. `suspend` cuts a processor off at once; `reinstate` needs "
    "a reason.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


def operator() -> str:
    """The audit actor of this CLI invocation: ``operator:<login>`` (``operator:cli``)."""
    try:
        login = getpass.getuser()
    except (KeyError, OSError):
        login = ""
    return f"operator:{login or 'cli'}"


def _render_change(change: Change) -> None:
    what = f"{change.kind} {change.target}"
    if change.op == "create":
        console.print(Text(f"+ {what}", style="green"))
    elif change.op == "delete":
        gone = change.assignments_removed
        suffix = f" ({gone} assignment(s) removed with it)" if gone else ""
        console.print(Text(f"- {what}{suffix}", style="red"))
    else:
        console.print(Text(f"~ {what}", style="yellow"))
        for name, (old, new) in change.diff.items():
            console.print(Text(f"    {name}: {show(old)} → {show(new)}"), highlight=False)


def _change_json(change: Change) -> dict[str, Any]:
    data = asdict(change)
    data["diff"] = {k: {"old": old, "new": new} for k, (old, new) in change.diff.items()}
    return data


def _render_result(result: ApplyResult) -> None:
    for change in result.changes:
        _render_change(change)
    print_summary(
        unmanaged=result.unmanaged,
        changes=len(result.changes),
        dry_run=result.dry_run,
        matched="the database",
    )


@group.command("apply")
def apply(
    ctx: typer.Context,
    file: Path = typer.Argument(  # noqa: B008 (typer declares arguments this way)
        ..., help="The processors file (YAML).", dir_okay=False
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the diff; write nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print the changes as JSON."),
) -> None:
    """Make processors and contracts match FILE, and print what changed.

    Declarative and idempotent: applying the same file twice changes nothing. Contracts
    missing from the file are deleted with their assignments; processors missing from it
    are left alone. The file is checked first, and every problem is reported with its
    place (`processors[2].contracts[0].masks.birth_date: unknown mask 'yeer' (line 14)`);
    then nothing is applied.
    """
    inst = instance(ctx)
    try:
        with inst.session() as session:
            result = apply_file(session, path=file, actor=operator(), dry_run=dry_run)
    except SpecRejected as exc:
        for path, reason, line in exc.problems:
            err_console.print(
                format_problem(path, reason, line), markup=False, highlight=False, soft_wrap=True
            )
        raise
    if as_json:
        print_json(
            {
                "dry_run": result.dry_run,
                "changes": [_change_json(c) for c in result.changes],
                "unmanaged": result.unmanaged,
            }
        )
        return
    _render_result(result)


@group.command("list")
def list_(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """List processors with their status, contracts, scope size and usable keys.

    The scope size counts the distinct people each processor may see today (current
    assignments under current contracts).
    """
    inst = instance(ctx)
    with inst.session() as session:
        now = utcnow()
        rows = summarise(session, on=now.date(), now=now)
    if as_json:
        print_json([asdict(r) for r in rows])
        return
    table = Table(title="Processors")
    for column in ("name", "legal name", "region", "status", "contracts", "scope", "keys"):
        table.add_column(column, justify="right" if column in ("scope", "keys") else "left")
    for r in rows:
        status = "[red]suspended[/red]" if r.status == "suspended" else "[green]active[/green]"
        contracts = ", ".join(
            name if name in r.current_contracts else f"[dim]{name}[/dim]" for name in r.contracts
        )
        table.add_row(
            r.name,
            r.legal_name,
            r.region or "—",
            status,
            contracts or "—",
            f"{r.scope_size:,}",
            str(r.active_keys),
        )
    console.print(table)


@group.command("suspend")
def suspend(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The processor's handle."),
    reason: str = typer.Option(..., "--reason", help="Why (kept in the audit trail)."),
) -> None:
    """Suspend a processor: every one of its keys is refused from the next request on."""
    inst = instance(ctx)
    with inst.session() as session:
        changed = suspend_processor(session, name=name, reason=reason, actor=operator())
    if changed:
        console.print(f"Processor {name} suspended.", highlight=False)
    else:
        console.print(f"Processor {name} was already suspended.", highlight=False)


@group.command("reinstate")
def reinstate(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The processor's handle."),
    reason: str = typer.Option(
        ..., "--reason", help="Why access is restored (mandatory; kept in the audit trail)."
    ),
) -> None:
    """Lift a processor's suspension. Its keys work again unless revoked, expired or suspended."""
    inst = instance(ctx)
    with inst.session() as session:
        reinstate_processor(session, name=name, reason=reason, actor=operator())
    console.print(f"Processor {name} reinstated.", highlight=False)


@group.command("assign")
def assign(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The processor's handle."),
    contract: str = typer.Argument(..., help="The contract's name."),
    file: Path = typer.Argument(  # noqa: B008 (typer declares arguments this way)
        ..., help="CSV with columns ref, starts_on and optionally ends_on.", dir_okay=False
    ),
    replace: bool = typer.Option(
        False, "--replace", help="Also remove the contract's assignments not in the file."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count the changes; write nothing."),
) -> None:
    """Put people in a contract's scope from a CSV file (`ref,starts_on,ends_on`).

    Dates are inclusive, `YYYY-MM-DD`; an empty `ends_on` is open-ended. Every row is
    checked first (unknown reference, bad date, duplicate) and a bad file is refused
    whole. Importing the same file twice changes nothing; one audit event records the
    counts.
    """
    inst = instance(ctx)
    with inst.session() as session:
        report = import_assignments(
            session,
            processor=name,
            contract=contract,
            path=file,
            actor=operator(),
            replace=replace,
            dry_run=dry_run,
        )
    verb = "would be" if report.dry_run else "were"
    console.print(
        f"{report.rows:,} row(s): {report.added:,} added, {report.updated:,} updated, "
        f"{report.unchanged:,} unchanged, {report.removed:,} removed ({verb} applied).",
        highlight=False,
    )


@group.command("dossier")
def dossier(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The processor's handle."),
    incident: int = typer.Option(..., "--incident", help="The incident's number."),
    out: Path = typer.Option(  # noqa: B008
        ..., "--out", help="Directory to write the dossier into.", file_okay=False
    ),
    pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="Also write dossier.pdf."),
) -> None:
    """Build the sanction dossier of a processor for an incident: its contracts and
    requirements in force, its standing then, keys, volume, alerts, attribution, timeline,
    its own duty and a draft formal notice, as JSON and PDF, with a signed manifest and an
    inclusion proof per cited audit event (docs/requirements.md)."""
    inst = instance(ctx)
    with inst.session() as session:
        from vigie.requirements.dossier_pack import build_dossier  # its PDF stack: only here

        built = build_dossier(
            session, inst.settings, inst.secrets, processor=name, incident_id=incident,
            out_dir=out, actor=operator(), now=utcnow(), pdf=pdf,
        )  # fmt: skip
    console.print(
        f"Dossier of {name} for incident {incident} written to {out}: {len(built.files)} "
        f"files, {len(built.cited)} audit events cited and proven.",
        highlight=False,
    )
    console.print(
        f"Verify offline: python {out / 'verify_trail.py'} --dossier {out} "
        f"--fingerprint {built.fingerprint}",
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.add_typer(group, name="processors")
