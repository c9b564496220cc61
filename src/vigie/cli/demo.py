"""``vigie demo``: the OFII case replayed end to end on a fresh embedded instance."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vigie.cli.context import console


def register(app: typer.Typer) -> None:
    """Add ``vigie demo`` to ``app``."""
    app.command("demo")(demo)


def demo(
    people: Annotated[
        int,
        typer.Option(
            "--people",
            "-n",
            min=1000,
            help="Population size; 2100000 for the real scale of the case.",
        ),
    ] = 20_000,
    days: Annotated[
        int, typer.Option("--days", min=1, max=60, help="Days of ordinary provider traffic.")
    ] = 5,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the population.")] = 2026,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Where the demo instance and its outputs go; an earlier demo's outputs "
            "there are replaced, anything else is refused.",
        ),
    ] = Path("demo-output"),
) -> None:
    """Replay the OFII case: a population, ordinary traffic, a stolen key, the leak, the response.

    Builds a fresh SQLite instance under `--out` (an earlier demo's outputs there are
    replaced; any other non-empty directory is refused) whatever `VIGIE_*` the shell sets
    (a `VIGIE_DATABASE_URL` of a real registry is never touched), serves
    the real gateway on loopback, and prints a short story with the figures of each
    step. Exits non-zero if any step does not do what it claims (for example, if the
    attack is not contained). Fully offline.
    """
    from vigie.demo.story import Demo, DemoOptions

    console.print(
        "[bold]Vigie — the OFII case, replayed[/]\n"
        "In January 2026, 2.1 million rows of OFII's integration-contract data were put on "
        "sale, taken through a training subcontractor's legitimate access. Here is what "
        "Vigie does about each link of that chain.\n"
    )
    outcome = Demo(DemoOptions(out=out, people=people, seed=seed, days=days), console).run()
    console.print("\n[bold]Outputs[/]")
    for name, path in outcome.outputs.items():
        console.print(f"  {name}: {path}")
    data = out / "data"
    console.print(
        "\n[bold]Explore further[/] (the demo instance is yours):\n"
        "  unset VIGIE_DATABASE_URL VIGIE_SECRETS_DIR VIGIE_NOTICE_OUTBOX_DIR\n"
        f"  export VIGIE_DATA_DIR={data}\n"
        "  vigie processors list        # the providers, their scopes and state\n"
        "  vigie alerts list            # what detection saw\n"
        "  vigie incident list          # the incident and its clock\n"
        "  vigie audit verify           # the trail, end to end\n"
        "  vigie serve                  # the processor API on 127.0.0.1:8000 (docs/api.md)\n"
        "                               # and the console on http://127.0.0.1:8001/ "
        "(docs/console.md)"
    )
    operator = outcome.console_operator
    if operator is not None:
        console.print(
            f"\n[bold]The console[/]: after `vigie serve`, open http://127.0.0.1:8001/ and "
            f"sign in as [bold]{operator.login}[/] with the password and TOTP key printed "
            "above ([bold red]demo only[/]: a real instance never prints them).",
            highlight=False,
        )
