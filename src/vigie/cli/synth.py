"""`vigie synth`: a synthetic CIR population, its subcontractors and canaries."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from vigie.cli.context import PREPARE_HINT, console, err_console, instance, print_json
from vigie.cli.processors import operator
from vigie.registry.france import REGIONS
from vigie.synth.summary import PopulationSummary, population_summary


def register(app: typer.Typer) -> None:
    """Add ``vigie synth`` to ``app``."""
    app.command("synth")(synth)


def synth(
    ctx: typer.Context,
    people: Annotated[
        int, typer.Option("--people", "-n", min=1, help="How many people to create.")
    ] = 20_000,
    seed: Annotated[
        int, typer.Option("--seed", help="Random seed: the same seed, the same people.")
    ] = 2026,
    canaries: Annotated[
        bool,
        typer.Option(
            "--canaries/--no-canaries",
            help="Plant canaries in every scope (density: VIGIE_CANARY_DENSITY, default 0.3%).",
        ),
    ] = True,
    resumable: Annotated[
        bool,
        typer.Option(
            "--resumable",
            help="Commit batch by batch; run the same command again to resume a build that "
            "was stopped (for tens of millions of people).",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Fill an empty registry with a realistic synthetic CIR population.

    Creates the subcontractors of the case from the shipped providers file (a language
    and a civic training provider per region, one IT platform), the people — nationality
    mix of recent arrivals, names in native scripts with their transliterations, French
    addresses, entry dates, reasons and statuses — some with earlier versions (moves,
    new phone), their assignments, and canaries. Deterministic for a seed; e-mail
    addresses use reserved example domains only. 2.1 million people load in about a
    minute on SQLite (see docs/benchmarks.md). With ``--resumable`` each batch of people
    is committed as it is written, and the same command resumes a build that was
    stopped; the same seed and size give the same registry either way.
    """
    from vigie.synth.load import synthesize

    inst = instance(ctx)
    density = inst.settings.canary_density if canaries else 0.0
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, console=err_console, transient=True, disable=as_json) as bar:
        task = bar.add_task("drawing and loading people", total=people)

        def advance(done: int, total: int) -> None:
            # After the last batch the database assigns people and builds its indexes.
            label = "assigning and indexing" if done >= total else "drawing and loading people"
            bar.update(task, completed=done, total=total, description=label)

        report = synthesize(
            inst.engine, people=people, seed=seed, progress=advance,
            canary_density=density, actor=operator(), resumable=resumable,
            phase=lambda name: bar.update(task, description=name),
        )  # fmt: skip
    with inst.session() as session:
        summary = population_summary(session)
    if as_json:
        print_json({"seconds": round(report.seconds, 2), "seed": seed, **summary.as_json()})
        return
    console.print(
        f"[bold green]{report.people:,} people[/] and {report.canaries:,} canaries in "
        f"{report.seconds:.1f} s ({report.versions:,} earlier versions, "
        f"{report.assignments:,} assignments, {report.processors} processors; seed {seed})."
    )
    render_summary(summary)
    console.print(PREPARE_HINT, style="dim")


def render_summary(summary: PopulationSummary, *, top: int = 12) -> None:
    """Print the population summary as Rich tables (also used by ``vigie demo``)."""
    mix = Table(title="People by nationality")
    mix.add_column("nationality")
    mix.add_column("people", justify="right")
    mix.add_column("share", justify="right")
    for code, n in summary.by_nationality[:top]:
        mix.add_row(code, f"{n:,}", f"{n / max(summary.people, 1):.1%}")
    rest = sum(n for _, n in summary.by_nationality[top:])
    if rest:
        mix.add_row("others", f"{rest:,}", f"{rest / max(summary.people, 1):.1%}")
    langs = Table(title="Preferred languages")
    langs.add_column("language (BCP 47)")
    langs.add_column("people", justify="right")
    for tag, n in summary.by_language[:top]:
        langs.add_row(tag, f"{n:,}")
    console.print(mix)
    console.print(langs)
    procs = Table(title="Processors and their scopes")
    procs.add_column("processor")
    procs.add_column("region")
    procs.add_column("people in scope", justify="right")
    for p in summary.processors:
        region = f"{p.region} {REGIONS.get(p.region, '')}" if p.region else "all"
        procs.add_row(p.name, region, f"{p.scope:,}")
    console.print(procs)
