"""Running the demo's steps: timing, a line of story per step, and claims that are checked.

A step is a function that does real work and returns the figures it wants shown. A step
that does not do what it claims raises :class:`DemoFailure`; the runner stops there and
``vigie demo`` exits non-zero.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.console import Console
from rich.rule import Rule

from vigie.errors import VigieError


class DemoFailure(VigieError):
    """A demo step did not do what it claims (e.g. the attack was not contained)."""


def claim(condition: bool, message: str) -> None:
    """Raise :class:`DemoFailure` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise DemoFailure(message)


@dataclass
class StepResult:
    """What one step did and how long it took."""

    number: int
    title: str
    seconds: float
    lines: list[str] = field(default_factory=list)


@dataclass
class StepRunner:
    """Runs numbered steps in order, printing a headline, the story and the timing."""

    console: Console
    results: list[StepResult] = field(default_factory=list)

    def run(self, title: str, step: Callable[[], list[str]]) -> list[str]:
        number = len(self.results) + 1
        self.console.print(Rule(f"[bold]{number}. {title}[/]", align="left"))
        started = time.perf_counter()
        lines = step()
        seconds = time.perf_counter() - started
        for line in lines:
            self.console.print(f"  {line}")
        self.console.print(f"  [dim]({seconds:.1f} s)[/]")
        self.results.append(StepResult(number, title, seconds, lines))
        return lines

    @property
    def total_seconds(self) -> float:
        return sum(r.seconds for r in self.results)
