"""`vigie operators`: the console's operators (add, list, disable, reset, set-language)."""

from __future__ import annotations

import sys
from dataclasses import asdict

import typer
from rich.table import Table

from vigie.cli.context import console, instance, print_json
from vigie.cli.processors import operator as cli_actor
from vigie.console.auth import PasswordCost
from vigie.console.operators import (
    LANGUAGES,
    add_operator,
    disable_operator,
    list_operators,
    reset_password,
    reset_second_factor,
    set_language,
)
from vigie.console.roles import Role
from vigie.errors import InvalidInput

group = typer.Typer(
    help="Operators of the console: the controller's staff who sign in to it.\n\n"
    "Each has a role (`dpo`: everything; `security`: processors, keys, alerts, "
    "containment, leaks; `auditor`: read-only), an Argon2 password and a TOTP second "
    "factor enrolled at first sign-in. Every change is in the audit trail.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise InvalidInput("no password on standard input")
        return password
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@group.command("add")
def add(
    ctx: typer.Context,
    login: str = typer.Argument(..., help="The operator's login (a-z, 0-9, '.', '_', '-')."),
    role: Role = typer.Option(..., "--role", help="dpo, security or auditor."),  # noqa: B008
    language: str = typer.Option(
        "fr", "--language", help=f"Language of the console: {', '.join(LANGUAGES)}."
    ),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from the first line of stdin."
    ),
) -> None:
    """Create an operator. The password is asked twice (or read from stdin); the second
    factor (TOTP) is enrolled at the first sign-in to the console."""
    password = _password(password_stdin)
    inst = instance(ctx)
    with inst.session() as session:
        add_operator(
            session,
            login=login,
            role=role.value,
            password=password,
            language=language,
            actor=cli_actor(),
            cost=PasswordCost.of(inst.settings),
        )
    console.print(
        f"Operator {login} ({role.value}) created; they set up their second factor at "
        "first sign-in.",
        highlight=False,
    )


@group.command("list")
def list_(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """List operators with their role, language, second factor and status."""
    inst = instance(ctx)
    with inst.session() as session:
        rows = list_operators(session)
    if as_json:
        print_json([asdict(r) for r in rows])
        return
    table = Table(title="Operators")
    for column in ("login", "role", "language", "second factor", "status"):
        table.add_column(column)
    for r in rows:
        table.add_row(r.login, r.role, r.language, r.second_factor, r.status)
    console.print(table)


@group.command("disable")
def disable(
    ctx: typer.Context, login: str = typer.Argument(..., help="The operator's login.")
) -> None:
    """Disable an operator: no more sign-in, and every open session ends at once."""
    with instance(ctx).session() as session:
        disable_operator(session, login=login, actor=cli_actor())
    console.print(f"Operator {login} disabled.", highlight=False)


@group.command("reset-password")
def reset_password_(
    ctx: typer.Context,
    login: str = typer.Argument(..., help="The operator's login."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the new password from the first line of stdin."
    ),
) -> None:
    """Give an operator a new password; their open sessions end."""
    password = _password(password_stdin)
    inst = instance(ctx)
    with inst.session() as session:
        reset_password(
            session,
            login=login,
            password=password,
            actor=cli_actor(),
            cost=PasswordCost.of(inst.settings),
        )
    console.print(f"Password of {login} reset.", highlight=False)


@group.command("reset-2fa")
def reset_2fa(
    ctx: typer.Context, login: str = typer.Argument(..., help="The operator's login.")
) -> None:
    """Forget an operator's second factors (TOTP and security keys): they enrol again at next
    sign-in."""
    with instance(ctx).session() as session:
        reset_second_factor(session, login=login, actor=cli_actor())
    console.print(
        f"Second factor of {login} reset; they enrol again at next sign-in.", highlight=False
    )


@group.command("set-language")
def set_language_(
    ctx: typer.Context,
    login: str = typer.Argument(..., help="The operator's login."),
    language: str = typer.Argument(..., help=f"Language of the console: {', '.join(LANGUAGES)}."),
) -> None:
    """Set the language of an operator's console (they may also change it in its pages);
    their next page is in it."""
    with instance(ctx).session() as session:
        set_language(session, login=login, language=language, actor=cli_actor())
    console.print(f"Console language of {login}: {language}.", highlight=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.add_typer(group, name="operators")
