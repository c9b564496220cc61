"""`vigie subjects`: import, export and show the people of the registry."""

from __future__ import annotations

import sys
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from vigie.cli.context import PREPARE_HINT, console, instance, print_json
from vigie.cli.processors import operator
from vigie.registry.exporter import export_subjects
from vigie.registry.history import SubjectView, show
from vigie.registry.importer import import_file
from vigie.registry.population import (
    DECLARE_HINT,
    DeclaredPopulation,
    current_population,
    declare_population,
    load_population,
)


class Format(StrEnum):
    """Export formats."""

    csv = "csv"
    jsonl = "jsonl"


group = typer.Typer(
    help="The controller's registry of people (data subjects).\n\n"
    "`import` loads a CSV or JSON Lines file (all or nothing; re-importing the same file "
    "changes nothing; a changed value makes a new version), `export` writes the registry "
    "back out, `show` prints one person with their full version history, `population` "
    "declares or shows what being in the registry reveals (weighed by risk assessments). "
    "See docs/registry.md for the columns and their rules.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


def register(app: typer.Typer) -> None:
    """Add ``vigie subjects`` to ``app``."""
    app.add_typer(group, name="subjects")


@group.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(help="A .csv (comma or semicolon) or .jsonl file, UTF-8.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Import people from FILE, checking every row first.

    Columns are the registry fields (docs/registry.md). If any row is bad, every bad row
    is listed as `line N: field: reason` and nothing is written. A person whose `ref` is
    known and whose values changed gets a new version; the old one is kept, dated.
    """
    inst = instance(ctx)
    with inst.session() as session:
        report = import_file(session, path=file, actor=operator())
    if as_json:
        print_json(asdict(report))
        return
    console.print(
        f"{report.rows} row(s): [green]{report.created} created[/], "
        f"[yellow]{report.updated} updated[/] (new version), {report.unchanged} unchanged."
    )
    if report.created or report.updated:
        console.print(PREPARE_HINT, style="dim")


@group.command("export")
def export(
    ctx: typer.Context,
    fmt: Annotated[Format, typer.Option("--format", help="`csv` or `jsonl`.")] = Format.csv,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output file (default: standard output).")
    ] = None,
    include_canaries: Annotated[
        bool,
        typer.Option("--include-canaries", help="Also write the canaries (left out by default)."),
    ] = False,
) -> None:
    """Write every person's current version as CSV or JSON Lines.

    The columns are those `vigie subjects import` reads, so the file imports back unchanged.
    The export is personal data: keep it encrypted and delete it when done.
    """
    inst = instance(ctx)
    with inst.session() as session:
        if out is None:
            export_subjects(
                session, out=sys.stdout, fmt=fmt.value, actor=operator(),
                include_canaries=include_canaries,
            )  # fmt: skip
            return
        with out.open("w", encoding="utf-8", newline="") as handle:
            out.chmod(0o600)
            count = export_subjects(
                session, out=handle, fmt=fmt.value, actor=operator(),
                include_canaries=include_canaries,
            )  # fmt: skip
    console.print(f"wrote {count} people to {out}")


@group.command("show")
def show_(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="The person's file number (`ref`).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Show one person: current values and every earlier version with its validity."""
    inst = instance(ctx)
    with inst.session() as session:
        view = show(session, ref=ref)
    if as_json:
        print_json(view.as_json())
        return
    _render(view)


@group.command("population")
def population(
    ctx: typer.Context,
    file: Annotated[
        Path | None,
        typer.Argument(help="A population context YAML file to declare (see docs/breach.md)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Declare (with FILE) or show the registry's population context.

    What being in the registry reveals about a person (`membership_reveals`), whether
    its people are vulnerable and why (`vulnerable`, `vulnerable_why`), and which Art. 9
    categories membership lets one infer (`special_categories_inferable`). Every risk
    assessment weighs it and refuses to run until it is declared. Each change is audited
    (`registry:population`); declaring the same context again changes nothing.
    """
    inst = instance(ctx)
    changed = False
    with inst.session() as session:
        if file is None:
            declared = current_population(session)
        else:
            context = load_population(file)
            declared, changed = declare_population(session, context=context, actor=operator())
    if as_json:
        print_json(None if declared is None else _population_json(declared, changed))
        return
    if declared is None:
        console.print(f"no population context declared: {DECLARE_HINT}", highlight=False)
        return
    c = declared.context
    verb = "declared" if changed else "in force"
    console.print(
        f"population context {verb} (#{declared.id}, {declared.declared_at:%Y-%m-%d %H:%M} "
        f"UTC, by {declared.actor}, audit seq {declared.audit_seq})",
        highlight=False,
    )
    console.print(f"membership reveals: {c.membership_reveals or '—'}", highlight=False)
    console.print(
        f"vulnerable: {'yes — ' + (c.vulnerable_why or '') if c.vulnerable else 'no'}",
        highlight=False,
    )
    cats = ", ".join(c.special_categories_inferable) or "—"
    console.print(f"special categories inferable: {cats}", highlight=False)


def _population_json(declared: DeclaredPopulation, changed: bool) -> dict[str, Any]:
    return {
        "id": declared.id,
        "declared_at": declared.declared_at.isoformat(),
        "actor": declared.actor,
        "audit_seq": declared.audit_seq,
        "changed": changed,
        **declared.context.as_dict(),
    }


def _render(view: SubjectView) -> None:
    title = f"{view.ref} — version {view.current.version}"
    if view.is_canary:
        title += " (canary)"
    table = Table(title=title, show_lines=False)
    table.add_column("field", style="bold")
    table.add_column("current")
    older = list(reversed(view.versions[:-1]))
    for v in older:
        table.add_column(f"v{v.version} until {v.valid_to:%Y-%m-%d}" if v.valid_to else "")
    for name, value in view.current.values.items():
        cells = [_cell(value)]
        cells += [_cell(v.values[name]) if v.values[name] != value else "·" for v in older]
        table.add_row(name, *cells)
    console.print(table)
    console.print(f"current since {view.current.valid_from:%Y-%m-%d %H:%M} UTC", style="dim")


def _cell(value: Any) -> str:
    return "—" if value is None else str(value)
