"""`vigie incident` through Typer's runner, on a real database."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from sqlalchemy import Engine
from typer.testing import CliRunner

from vigie.audit.checkpoints import fingerprint
from vigie.breach.fonts import PreparedFonts
from vigie.cli.app import app
from vigie.cli.context import Instance
from vigie.secrets import load_secrets
from vigie.settings import Settings

runner = CliRunner()


def run(settings: Settings, engine: Engine, *args: str) -> str:
    result = runner.invoke(app, list(args), obj=Instance(settings=settings, _engine=engine))
    assert result.exit_code == 0, result.output
    return result.output


def test_open_list_show_assess(
    settings: Settings, engine: Engine, subject_ids: list[int], processor_id: int, tmp_path: Path
) -> None:
    report = tmp_path / "leak.json"
    report.write_text(
        json.dumps(
            {
                "affected_subjects": [f"CIR-2025-{i:06d}" for i in range(1, 6)],
                "columns": {"nom": "full_name", "mail": "email", "statut": "residence_status"},
                "attribution": {"processor": "lingua"},
            }
        )
    )
    out = run(
        settings,
        engine,
        "incident",
        "open",
        "--from-leak",
        str(report),
        "--aware-at",
        "2026-01-12T09:00:00+00:00",
    )
    assert "incident 1 opened" in out and "5 people" in out
    listed = json.loads(run(settings, engine, "incident", "list", "--json"))
    assert listed[0]["processor"] == "lingua" and listed[0]["people"] == 5
    out = run(settings, engine, "incident", "assess", "1", "--malicious")
    assert "high" in out
    run(
        settings,
        engine,
        "incident",
        "processor-duty",
        "1",
        "--not-informed",
        "--note",
        "learned from the sale notice",
    )
    shown = json.loads(run(settings, engine, "incident", "show", "1", "--json"))
    assert shown["exposure"]["by_field"]["residence_status"] == 5
    assert shown["risk_assessment"]["notify_people"] is True
    assert [e["kind"] for e in shown["timeline"]] == [
        "open",
        "evidence",
        "exposure",
        "risk",
        "processor_duty",
    ]
    assert "overdue" in shown["time_left"] or "left" in shown["time_left"]
    assert "incident 1" in run(settings, engine, "incident", "show", "1")


def test_user_errors_are_one_line(settings: Settings, engine: Engine) -> None:
    result = runner.invoke(
        app, ["incident", "show", "42"], obj=Instance(settings=settings, _engine=engine)
    )
    assert result.exit_code == 1 and "no incident 42" in result.output
    result = runner.invoke(
        app,
        ["incident", "open", "--title", "x", "--aware-at", "yesterday"],
        obj=Instance(settings=settings, _engine=engine),
    )
    assert result.exit_code == 1 and "ISO 8601" in result.output


def test_pack_register_notify_dry_run_and_codes(
    settings: Settings, engine: Engine, subject_ids: list[int], processor_id: int,
    tmp_path: Path, prepared_fonts: PreparedFonts,
) -> None:  # fmt: skip
    cache = settings.data_dir / "cache" / "fonts"  # reuse the fonts prepared for the run
    cache.mkdir(parents=True)
    for font in prepared_fonts.files:
        shutil.copy(font, cache / font.name)
    report = tmp_path / "leak.json"
    report.write_text(json.dumps({
        "affected_subjects": 3, "rows": 3,
        "exposures": {f"CIR-2025-{i:06d}": ["email", "residence_status"] for i in (1, 5, 13)},
        "attribution": [{"processor": "lingua", "processor_id": processor_id}],
    }))  # fmt: skip
    run(settings, engine, "incident", "open", "--from-leak", str(report))
    run(settings, engine, "incident", "assess", "1", "--malicious")
    run(settings, engine, "incident", "record", "1", "--effects", "phishing risk",
        "--measure", "keys rotated")  # fmt: skip
    out = run(settings, engine, "incident", "authority-pack", "1", "--out", str(tmp_path / "p"))
    assert "phase 1" in out and (tmp_path / "p" / "incident-1-phase-1.pdf").exists()
    audit_key = load_secrets(settings.resolved_secrets_dir).verify_key
    pack = (tmp_path / "p" / "incident-1-phase-1.md").read_text(encoding="utf-8")
    assert f"--fingerprint {fingerprint(audit_key)}" in pack
    out = run(settings, engine, "incident", "authority-pack", "1", "--out", str(tmp_path / "p"),
              "--complementary", "--no-pdf")  # fmt: skip
    assert "phase 2" in out
    dry = json.loads(run(settings, engine, "incident", "notify", "1", "--channel", "all",
                         "--dry-run", "--json"))  # fmt: skip
    assert dry["people"] == 3 and dry["sent"]["letter"] == 3
    assert dry["languages"] == {"fr": 1, "ar": 1, "fr+en": 1}
    run(settings, engine, "incident", "notify", "1", "--channel", "sms")
    outbox = settings.data_dir / "outbox" / "sms-incident-1.jsonl"
    first = json.loads(outbox.read_text().splitlines()[0])
    code = re.search(r"(?<![\w-])([0-9A-Z]{4}-[0-9A-Z]{4})(?![\w-])", first["text"]).group(1)
    assert "genuine" in run(settings, engine, "incident", "verify-code", "CIR-2025-000001", code)
    bad = runner.invoke(app, ["incident", "verify-code", "CIR-2025-000001", "AAAA-AAAA"],
                        obj=Instance(settings=settings, _engine=engine))  # fmt: skip
    assert bad.exit_code == 1 and "does not match" in bad.output
    run(settings, engine, "incident", "register", "--out", str(tmp_path / "r.json"))
    assert json.loads((tmp_path / "r.json").read_text())[0]["effects"] == "phishing risk"
    out = run(settings, engine, "incident", "public-notice", "1", "--out", str(tmp_path / "pub"))
    assert "1 people not reached" in out  # CIR-2025-000013 has no phone


def test_assess_takes_profiling_and_recipients_and_explains_them(
    settings: Settings, engine: Engine, subject_ids: list[int], processor_id: int, tmp_path: Path
) -> None:
    report = tmp_path / "leak.json"
    report.write_text(json.dumps({
        "affected_subjects": 2, "rows": 2,
        "exposures": {f"CIR-2025-{i:06d}": ["email"] for i in (1, 5)},
        "attribution": [{"processor": "lingua", "processor_id": processor_id}],
    }))  # fmt: skip
    run(settings, engine, "incident", "open", "--from-leak", str(report))
    out = run(settings, engine, "incident", "assess", "1")
    assert "recipients (0.0): not declared, yet the data was found outside" in out
    out = run(settings, engine, "incident", "assess", "1", "--recipients", "unknown",
              "--profiling")  # fmt: skip
    assert "recipients (0.5)" in out and "unknown number of unknown recipients" in out
    assert "profiling" in out
    stored = json.loads(run(settings, engine, "incident", "show", "1", "--json"))
    factors = {f["name"]: f for f in stored["risk_assessment"]["factors"]}
    assert factors["recipients"]["rating"] == 0.5
    bad = runner.invoke(app, ["incident", "assess", "1", "--recipients", "some"],
                        obj=Instance(settings=settings, _engine=engine))  # fmt: skip
    assert bad.exit_code != 0 and "known" in bad.output
    help_text = runner.invoke(app, ["incident", "assess", "--help"]).output
    assert "--recipients" in help_text and "--profiling" in help_text
    assert "ENISA" in help_text
