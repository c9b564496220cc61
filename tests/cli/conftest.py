"""The CLI tests' runner: ``vigie ARGS`` on the test instance, through Typer's runner."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import Result
from sqlalchemy import Engine
from typer.testing import CliRunner

from vigie.cli.app import app
from vigie.cli.context import Instance
from vigie.settings import Settings

Invoke = Callable[[list[str]], Result]
runner = CliRunner()


@pytest.fixture
def cli(settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """Run ``vigie ARGS`` on the test instance (its settings and engine), wide output."""
    monkeypatch.setenv("COLUMNS", "200")

    def invoke(args: list[str]) -> Result:
        return runner.invoke(app, args, obj=Instance(settings=settings, _engine=engine))

    return invoke
