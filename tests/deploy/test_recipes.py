"""The deployment recipes in deploy/: what can be checked without a container engine."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from vigie.cli.app import app

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _stages() -> list[list[str]]:
    stages: list[list[str]] = []
    text = (DEPLOY / "Containerfile").read_text().replace("\\\n", " ")
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        assert stages, "an instruction before the first FROM"
        stages[-1].append(line)
    return stages


def test_image_is_multi_stage_non_root_without_a_compiler() -> None:
    stages = _stages()
    assert len(stages) >= 2
    final = stages[-1]
    users = [line.split()[1] for line in final if line.upper().startswith("USER ")]
    assert users, "the final stage sets no USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    joined = " ".join(final)
    for compiler in ("build-essential", "gcc", "g++", "clang", "-dev "):
        assert compiler not in joined, f"{compiler} in the final stage"
    assert any(line.startswith("COPY --from=") for line in final)


def test_compose_file_has_the_store_the_listeners_and_a_worker() -> None:
    spec = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = spec["services"]
    assert {"postgres", "migrate", "api", "console", "public", "worker"} <= set(services)
    for name in ("api", "console", "public", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
        assert "--no-worker" in services[name]["command"] or name == "worker"
        nets = services[name]["networks"]
        assert "store" in nets
    assert "processors" not in services["console"]["networks"]
    assert "operators" not in services["api"]["networks"]
    # the internet-facing listener shares no network with the operators or the processors
    assert set(services["public"]["networks"]) == {"store", "public"}
    assert spec["networks"]["store"]["internal"] is True
    assert "POSTGRES_PASSWORD" not in services["postgres"]["environment"]  # a secret file
    for service in services.values():
        for net in service.get("networks", []):
            assert net in spec["networks"]
        for volume in service.get("volumes", []):
            assert volume.split(":")[0] in spec["volumes"]


def _commands(argv: list[str]) -> list[str]:
    return [a for a in argv if not a.startswith("-")][:1]


def test_recipes_run_commands_that_exist() -> None:
    import typer

    known = set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    spec = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    for service in spec["services"].values():
        if "command" in service:
            assert _commands(service["command"])[0] in known
    for unit in (DEPLOY / "systemd").glob("*.service"):
        line = re.search(r"^ExecStart=.*?/bin/vigie (\w+)", unit.read_text(), re.M)
        assert line and line.group(1) in known, unit.name


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
@pytest.mark.parametrize("unit", sorted(p.name for p in (DEPLOY / "systemd").iterdir()))
def test_systemd_unit_verifies(unit: str) -> None:
    result = subprocess.run(
        ["systemd-analyze", "verify", unit],
        cwd=DEPLOY / "systemd", capture_output=True, text=True, check=False,
    )  # fmt: skip
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.strip() and "/opt/vigie/bin/vigie is not executable" not in line
    ]
    assert problems == [], problems
