"""`vigie processors apply|list|suspend|reinstate` through Typer's runner, on real databases."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.cli.conftest import Invoke
from vigie.audit.actions import Action
from vigie.audit.models import AuditEvent
from vigie.cli.app import app

FILE = """\
processors:
  - name: lingua-cli
    legal_name: "Lingua CLI SAS (fictitious)"
    siren: "732100003"
    contact_email: dpo@lingua-cli.example
    security_officer: "Claire Martin"
    region: "84"
    contracts:
      - name: language
        purpose: language-training
        legal_basis: "GDPR Art. 6(1)(e)"
        reference: "OFII-CLI-1"
        valid_from: 2024-01-01
        read_fields: [pseudonym, given_name, birth_date]
        masks: {birth_date: year}
        budget: {per_day: 50, per_30_days: 500}
        rate_per_minute: 60
"""


def _file(tmp_path: Path, text: str = FILE) -> Path:
    path = tmp_path / "processors.yaml"
    path.write_text(text)
    return path


def test_apply_dry_run_then_apply_then_nothing(
    cli: Invoke, tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    path = _file(tmp_path)
    dry = cli(["processors", "apply", str(path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "+ processor lingua-cli" in dry.output and "Dry run" in dry.output
    done = cli(["processors", "apply", str(path)])
    assert done.exit_code == 0, done.output
    assert "+ contract lingua-cli/language" in done.output and "Applied 2 change(s)" in done.output
    again = cli(["processors", "apply", str(path)])
    assert "No change" in again.output
    _file(tmp_path, FILE.replace("per_day: 50", "per_day: 70"))
    diff = cli(["processors", "apply", str(path), "--json"])
    data = json.loads(diff.output)
    assert data["changes"][0]["diff"] == {"budget_per_day": {"old": 50, "new": 70}}
    with sessions() as s:
        actors = set(
            s.scalars(select(AuditEvent.actor).where(AuditEvent.action != Action.AUDIT_CHECKPOINT))
        )
        assert len(actors) == 1 and actors.pop().startswith("operator:")


def test_apply_reports_every_problem_with_its_place(cli: Invoke, tmp_path: Path) -> None:
    path = _file(tmp_path, FILE.replace("birth_date: year", "birth_date: yeer"))
    result = cli(["processors", "apply", str(path)])
    assert result.exit_code == 1
    assert "processors[0].contracts[0].masks.birth_date: unknown mask 'yeer'" in result.output
    assert "(line 15)" in result.output
    assert "Traceback" not in result.output
    missing = cli(["processors", "apply", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 1 and "cannot read" in missing.output


def test_list_suspend_reinstate(cli: Invoke, tmp_path: Path) -> None:
    assert cli(["processors", "apply", str(_file(tmp_path))]).exit_code == 0
    listed = json.loads(cli(["processors", "list", "--json"]).output)
    assert listed[0]["name"] == "lingua-cli" and listed[0]["status"] == "active"
    assert listed[0]["scope_size"] == 0 and listed[0]["current_contracts"] == ["language"]
    table = cli(["processors", "list"])
    assert table.exit_code == 0 and "lingua-cli" in table.output
    no_reason = cli(["processors", "suspend", "lingua-cli"])
    assert no_reason.exit_code != 0
    done = cli(["processors", "suspend", "lingua-cli", "--reason", "test"])
    assert done.exit_code == 0 and "suspended" in done.output
    listed = json.loads(cli(["processors", "list", "--json"]).output)
    assert listed[0]["status"] == "suspended" and listed[0]["suspended_reason"] == "test"
    empty = cli(["processors", "reinstate", "lingua-cli", "--reason", " "])
    assert empty.exit_code == 1 and "a reason is required" in empty.output
    back = cli(["processors", "reinstate", "lingua-cli", "--reason", "fixed"])
    assert back.exit_code == 0, back.output
    unknown = cli(["processors", "suspend", "ghost", "--reason", "x"])
    assert unknown.exit_code == 1 and "no processor named 'ghost'" in unknown.output


def test_assign(cli: Invoke, tmp_path: Path, sessions: sessionmaker[Session]) -> None:
    from datetime import UTC, date, datetime

    from vigie.registry.models import Subject

    assert cli(["processors", "apply", str(_file(tmp_path))]).exit_code == 0
    with sessions.begin() as s:
        s.add(
            Subject(
                ref="CLI-1", given_name="Ana", family_name="Test", birth_date=date(1990, 1, 1),
                sex="F", birth_country="PRT", nationality="PRT", preferred_language="pt",
                address_line="1 rue A", postal_code="69003", city="Lyon", region="84",
                entry_date=date(2024, 1, 1), residence_reason="family",
                residence_status="temporary-card", course_hours=100, course_level="A1",
                valid_from=datetime(2024, 1, 1, tzinfo=UTC),
            )
        )  # fmt: skip
    csv_path = tmp_path / "a.csv"
    csv_path.write_text("ref,starts_on,ends_on\nCLI-1,2025-01-01,\n")
    dry = cli(["processors", "assign", "lingua-cli", "language", str(csv_path), "--dry-run"])
    assert dry.exit_code == 0 and "1 added" in dry.output and "would be" in dry.output
    done = cli(["processors", "assign", "lingua-cli", "language", str(csv_path)])
    assert done.exit_code == 0 and "1 added" in done.output, done.output
    listed = json.loads(cli(["processors", "list", "--json"]).output)
    assert listed[0]["scope_size"] == 1
    csv_path.write_text("ref,starts_on\nGHOST,2025-01-01\n")
    bad = cli(["processors", "assign", "lingua-cli", "language", str(csv_path)])
    assert bad.exit_code == 1
    assert "line 2: ref: no person with this reference" in bad.output


def test_every_command_in_the_guide_exists() -> None:
    import re

    import typer

    doc = (Path(__file__).resolve().parents[2] / "docs" / "processors.md").read_text()
    mentioned = set(re.findall(r"vigie (processors|keys) ([a-z]+)", doc))
    root = typer.main.get_command(app)
    groups = root.commands  # type: ignore[attr-defined]
    assert {("processors", "apply"), ("keys", "issue"), ("processors", "assign")} <= mentioned
    for group, command in mentioned:
        assert command in groups[group].commands, f"vigie {group} {command} is documented only"
