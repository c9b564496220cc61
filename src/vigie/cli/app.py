"""The ``vigie`` command: assembles the command groups and turns errors into one line."""

from __future__ import annotations

import importlib
from typing import Any

import click
import typer
from typer.core import TyperGroup

from vigie import __version__
from vigie.cli.context import err_console
from vigie.errors import ImportRejected, VigieError

# Each module defines ``register(app)`` adding its command or command group.
COMMAND_MODULES = (
    "init",
    "synth",
    "subjects",
    "processors",
    "keys",
    "serve",
    "audit",
    "alerts",
    "attack",
    "canary",
    "leak",
    "incident",
    "demo",
)

class VigieGroup(TyperGroup):
    """Root group: a Vigie error becomes one line on stderr and exit code 1, no traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ImportRejected as exc:
            for line, field, reason in exc.problems:
                err_console.print(f"line {line}: {field}: {reason}", markup=False, highlight=False)
            err_console.print(f"error: {exc}", style="bold red", markup=False, highlight=False)
            raise typer.Exit(1) from None
        except VigieError as exc:
            err_console.print(f"error: {exc}", style="bold red", markup=False, highlight=False)
            raise typer.Exit(1) from None


app = typer.Typer(
    name="vigie",
    cls=VigieGroup,
    help="Vigie protects personal data shared with subcontractors, and runs the response "
    "when some of it leaks.\n\nStart with `vigie init`, then `vigie synth` or "
    "`vigie subjects import`. Settings come from VIGIE_* environment variables "
    "(see docs/operations.md).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"vigie {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Vigie."""


for _name in COMMAND_MODULES:
    importlib.import_module(f"vigie.cli.{_name}").register(app)


def main() -> None:
    """Entry point of the ``vigie`` console script."""
    app()
