"""`vigie synth` through Typer's runner, on real databases."""

from __future__ import annotations

import json

from tests.cli.conftest import Invoke, runner
from vigie.cli.app import app


def test_synth_prints_the_summary(cli: Invoke) -> None:
    result = cli(["synth", "--people", "400", "--seed", "3"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "400 people" in out
    assert "People by nationality" in out and "Processors and their scopes" in out
    assert "platform-cir" in out and "lingua-idf" in out and "11 Île-de-France" in out
    assert "vigie leak prepare" in " ".join(out.split())
    again = cli(["synth", "--people", "10"])
    assert again.exit_code == 1
    assert "already holds" in again.output


def test_synth_json_without_canaries(cli: Invoke) -> None:
    result = cli(["synth", "-n", "300", "--seed", "4", "--no-canaries", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["people"] == 300 and data["canaries"] == 0 and data["seed"] == 4
    assert sum(data["by_nationality"].values()) == 300
    assert len(data["processors"]) == 27
    platform = next(p for p in data["processors"] if p["name"] == "platform-cir")
    assert platform["scope"] == 300 and platform["region"] is None


def test_synth_rejects_zero_people() -> None:
    result = runner.invoke(app, ["synth", "--people", "0"])
    assert result.exit_code == 2


def test_synth_resumable_builds_the_same_population(cli: Invoke) -> None:
    result = cli(["synth", "-n", "300", "--seed", "4", "--resumable", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["people"] == 300 and data["canaries"] > 0
    platform = next(p for p in data["processors"] if p["name"] == "platform-cir")
    assert platform["scope"] == 300 + data["canaries"]
    again = cli(["synth", "-n", "300", "--seed", "4", "--resumable"])
    assert again.exit_code == 1  # a finished build is never resumed
    assert "already holds" in again.output
