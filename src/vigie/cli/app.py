"""The ``vigie`` command: assembles the command groups and turns errors into one line."""

from __future__ import annotations

import importlib
from typing import Any

import typer
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, NoSuchModuleError, OperationalError, SQLAlchemyError
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
    "operators",
    "serve",
    "audit",
    "alerts",
    "attack",
    "canary",
    "leak",
    "incident",
    "demo",
    "jobs",
    "requests",
    "requirements",
    "siem",
    "backup",
    "retention",
    "secrets",
)


class VigieGroup(TyperGroup):
    """Root group: a Vigie error becomes one line on stderr and exit code 1, no traceback."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            result = self._invoke(ctx)
        except BaseException:
            _anchor(ctx, failed=True)
            raise
        _anchor(ctx, failed=False)
        return result

    def _invoke(self, ctx: typer.Context) -> Any:
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
        except (OperationalError, NoSuchModuleError) as exc:
            err_console.print(
                f"error: cannot use the database {_shown_url(ctx)}: {_first_line(exc)} "
                "(run `vigie init`, or check VIGIE_DATA_DIR / VIGIE_DATABASE_URL)",
                style="bold red", markup=False, highlight=False,
            )  # fmt: skip
            raise typer.Exit(1) from None
        except DBAPIError as exc:
            err_console.print(
                f"error: database error: {_first_line(exc)}",
                style="bold red", markup=False, highlight=False,
            )  # fmt: skip
            raise typer.Exit(1) from None


def _anchor(ctx: typer.Context, *, failed: bool) -> None:
    """Sign a checkpoint over the audit events the command committed (even if it then
    failed: what was committed is in the trail). A failure to sign is reported, and turns
    a successful command into exit code 1: its events are left unanchored."""
    from vigie.cli.context import Instance

    inst = ctx.find_root().obj
    if not isinstance(inst, Instance):
        return
    try:
        inst.anchor()
    except (VigieError, SQLAlchemyError, OSError) as exc:
        err_console.print(
            f"error: the audit events of this command are not anchored: no checkpoint could "
            f"be signed ({_first_line(exc)}); run `vigie audit checkpoint`",
            style="bold red", markup=False, highlight=False,
        )  # fmt: skip
        if not failed:
            raise typer.Exit(1) from None


def _first_line(exc: Exception) -> str:
    cause = getattr(exc, "orig", None) or exc
    return str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__


def _shown_url(ctx: typer.Context) -> str:
    from vigie.cli.context import Instance

    obj = ctx.find_root().obj
    if isinstance(obj, Instance):
        url = obj.settings.resolved_database_url
        return make_url(url).render_as_string(hide_password=True)
    return "(unknown)"


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
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Vigie."""
    _configure_logging(serving=ctx.invoked_subcommand == "serve")


def _configure_logging(*, serving: bool) -> None:
    """Every command logs JSON lines without personal data (:mod:`vigie.ops.logs`), at the
    level and to the file the environment sets; settings that do not parse are left to
    the command to report."""
    from pydantic import ValidationError

    from vigie.ops.logs import configure
    from vigie.settings import Settings

    try:
        settings = Settings()
    except ValidationError:
        return
    configure(settings, serving=serving)


for _name in COMMAND_MODULES:
    importlib.import_module(f"vigie.cli.{_name}").register(app)


def main() -> None:
    """Entry point of the ``vigie`` console script."""
    app()
