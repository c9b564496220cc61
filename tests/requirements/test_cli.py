"""``vigie requirements``: the commands on a real instance, through Typer's runner."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from vigie.requirements.models import RequirementVersion

from .conftest import REQUIREMENTS_YAML, Invoke


def test_apply_dry_run_then_apply(
    cli: Invoke, processors: sessionmaker[Session], requirements_file: Path
) -> None:
    dry = cli(["requirements", "apply", str(requirements_file), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "+ requirement key-allow-list v1" in dry.output
    assert "Dry run: 4 change(s) would be made" in dry.output
    done = cli(["requirements", "apply", str(requirements_file)])
    assert done.exit_code == 0, done.output
    assert "Applied 4 change(s)" in done.output
    again = cli(["requirements", "apply", str(requirements_file)])
    assert "No change" in again.output


def test_apply_reports_every_problem_and_applies_nothing(
    cli: Invoke, processors: sessionmaker[Session], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        REQUIREMENTS_YAML.replace("kind: attested", "kind: sworn").replace(
            "consequence: suspend", "consequence: jail"
        )
    )
    result = cli(["requirements", "apply", str(bad)])
    assert result.exit_code == 1
    assert "requirements[3].kind: unknown kind 'sworn'" in result.output
    assert "requirements[2].consequence: unknown consequence 'jail'" in result.output
    assert "nothing applied" in result.output
    with processors.begin() as s:
        assert s.scalar(select(func.count()).select_from(RequirementVersion)) == 0
