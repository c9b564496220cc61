"""`vigie attack`: play a thief with a stolen key against a running gateway (real HTTP)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from vigie.cli.context import console, print_json
from vigie.detection.attack import STRATEGIES, AttackConfig, run_attack
from vigie.detection.pacing import RealPacer
from vigie.errors import InvalidInput


def attack(
    url: Annotated[str, typer.Option(help="Base URL of the gateway, e.g. http://127.0.0.1:8000.")],
    key: Annotated[
        list[str],
        typer.Option(help="A stolen API key. Repeat for `multikey` (keys of one processor)."),
    ],
    strategy: Annotated[
        str,
        typer.Option(help=f"How to extract: {', '.join(STRATEGIES)} (see docs/detection.md)."),
    ],
    page_size: Annotated[
        int, typer.Option(min=1, max=1000, help="Page size of bulk and multikey walks.")
    ] = 100,
    max_days: Annotated[
        int, typer.Option(min=1, help="Give up after this many days (drip, mimic).")
    ] = 30,
    max_requests: Annotated[
        int, typer.Option(min=1, help="Give up after this many requests.")
    ] = 100_000,
    per_day: Annotated[int, typer.Option(min=1, help="mimic: people to take a day.")] = 60,
    time_scale: Annotated[
        float,
        typer.Option(
            min=0.001,
            help="Divide every wait by this (e.g. 3600: an hour of waiting per second). The "
            "server still sees real time, so a compressed mimic no longer looks like the "
            "provider; the faithful 30-day figures come from `python -m benchmarks detection`.",
        ),
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed of the attacker's random choices.")] = 7,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Attack a gateway the way a thief with a provider's stolen key would, over real HTTP.

    Reports how many distinct people the attack obtained before it was stopped (key or
    processor suspended), and when. Use it against a test instance: it really extracts
    what the gateway lets it.
    """
    if strategy not in STRATEGIES:
        raise InvalidInput(f"--strategy must be one of {', '.join(STRATEGIES)}")
    config = AttackConfig(
        strategy=strategy,
        page_size=page_size,
        max_days=max_days,
        max_requests=max_requests,
        per_day=per_day,
        seed=seed,
    )
    with console.status(f"attacking {url} ({strategy})…"):
        report = run_attack(url=url, tokens=key, config=config, pacer=RealPacer(time_scale))
    data = report.as_dict()
    if as_json:
        print_json(data)
        return
    table = Table("figure", "value", title=f"attack: {strategy}")
    for name in (
        "people",
        "requests",
        "failed_lookups",
        "throttled",
        "stopped",
        "stop_status",
        "stop_reason",
        "elapsed_seconds",
        "finished_scope",
    ):
        table.add_row(name.replace("_", " "), str(data[name]))
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add `vigie attack` to ``app``."""
    app.command("attack")(attack)
