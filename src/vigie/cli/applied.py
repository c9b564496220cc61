"""How an `apply` command (processors, requirements) tells what it changed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vigie.cli.context import console


def show(value: Any) -> str:
    """A field's value in a diff line."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return "—" if value is None else str(value)


def print_summary(*, unmanaged: Sequence[str], changes: int, dry_run: bool, matched: str) -> None:
    """The last lines of an apply: what the file left alone, then what was (or would be)
    done; ``matched`` names what already matches the file when nothing changes."""
    if unmanaged:
        names = ", ".join(unmanaged)
        console.print(f"[dim]not in the file, left unchanged: {names}[/dim]", highlight=False)
    if not changes:
        console.print(f"No change: {matched} already matches the file.")
    elif dry_run:
        console.print(f"[bold]Dry run:[/bold] {changes} change(s) would be made; nothing written.")
    else:
        console.print(
            f"[bold green]Applied {changes} change(s)[/bold green], each in the audit trail."
        )
