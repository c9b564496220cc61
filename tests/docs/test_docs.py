"""The docs stay true: generated parts are fresh, and every public name is documented."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import typer

from vigie.audit.actions import Action
from vigie.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

# The public CLI contract of DESIGN.md: these commands must exist.
PUBLIC_COMMANDS = [
    "init", "synth", "subjects import", "subjects export", "subjects show",
    "processors apply", "processors list", "processors suspend", "processors reinstate",
    "keys issue", "keys list", "keys revoke", "serve",
    "audit verify", "audit checkpoint", "audit prove", "audit export", "alerts list",
    "attack", "canary trip", "leak analyze", "incident list", "incident show",
    "incident open", "incident authority-pack", "incident notify", "demo",
]  # fmt: skip


def _gen_docs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "tools" / "gen_docs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _subcommands(command: Any) -> dict[str, Any]:
    # Typer bundles its own click: walk groups by shape, not by class.
    return dict(getattr(command, "commands", None) or {})


def _command_paths(command: Any, prefix: str = "") -> list[str]:
    paths = [prefix.strip()] if prefix else []
    for name, sub in _subcommands(command).items():
        paths += _command_paths(sub, f"{prefix} {name}")
    return paths


def test_cli_reference_is_fresh() -> None:
    assert (DOCS / "cli.md").read_text() == _gen_docs().render_cli(), (
        "docs/cli.md is stale: run `make docs`"
    )


def test_settings_table_is_fresh() -> None:
    text = (DOCS / "operations.md").read_text()
    assert text == _gen_docs().with_settings(text), "settings table stale: run `make docs`"


@pytest.mark.parametrize("path", PUBLIC_COMMANDS)
def test_public_command_exists_and_is_documented(path: str) -> None:
    paths = _command_paths(typer.main.get_command(app))
    assert path in paths, f"`vigie {path}` is part of the public contract but does not exist"
    assert f"`vigie {path}" in (DOCS / "cli.md").read_text()


def test_every_command_has_help() -> None:
    def walk(command: Any, name: str) -> int:
        assert (command.help or command.short_help or "").strip(), f"`{name}` has no help"
        return 1 + sum(walk(sub, f"{name} {n}") for n, sub in _subcommands(command).items())

    assert walk(typer.main.get_command(app), "vigie") > len(PUBLIC_COMMANDS)


@pytest.mark.parametrize("action", list(Action), ids=lambda a: a.value)
def test_audit_action_is_documented(action: Action) -> None:
    assert f"`{action.value}`" in (DOCS / "audit.md").read_text()


def test_every_api_endpoint_is_documented(tmp_path: Path) -> None:
    from vigie.gateway.app import create_app
    from vigie.secrets import ensure_secrets
    from vigie.settings import Settings

    settings = Settings(data_dir=tmp_path)
    ensure_secrets(settings.resolved_secrets_dir)
    spec = create_app(settings).openapi()
    guide = (DOCS / "api.md").read_text()
    for path, operations in spec["paths"].items():
        for method in operations:
            assert f"{method.upper()} {path}" in guide, f"{method.upper()} {path} undocumented"


def test_docs_build_without_warnings(tmp_path: Path) -> None:
    mkdocs = str(Path(sys.executable).parent / "mkdocs")
    result = subprocess.run(
        [mkdocs, "build", "--strict", "--quiet", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
