"""From a leak analysis of the synthetic registry to a complete authority pack."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from vigie.breach.authority_render import SECTIONS
from vigie.cli.app import app
from vigie.cli.context import Instance
from vigie.leaks.analyze import analyze
from vigie.registry.models import Subject
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings
from vigie.synth.load import synthesize

from ..anchoring import sign

runner = CliRunner()


def test_leak_report_to_authority_pack(
    settings: Settings, engine: Engine, sessions: sessionmaker[Session],
    secrets: InstanceSecrets, tmp_path: Path,
) -> None:  # fmt: skip
    synthesize(engine, people=400, seed=11, actor="operator:test")
    sign(sessions, secrets)  # as `vigie synth` would have
    with sessions() as s:
        people = s.scalars(
            select(Subject).where(Subject.is_canary.is_(False)).order_by(Subject.id).limit(60)
        ).all()
        dump = tmp_path / "dump.csv"
        with dump.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["nom", "prenom", "courriel", "telephone", "nationalite", "statut"])
            for p in people:
                w.writerow([p.family_name, p.given_name, p.email or "", p.phone or "",
                            p.nationality, p.residence_status])  # fmt: skip
    report = analyze(engine, paths=[dump], secrets=secrets, settings=settings)
    path = tmp_path / "report.json"
    report.write_json(path)

    def cli(*args: str) -> str:
        result = runner.invoke(app, list(args), obj=Instance(settings=settings, _engine=engine))
        assert result.exit_code == 0, result.output
        return result.output

    cli("incident", "open", "--from-leak", str(path))
    cli("incident", "assess", "1", "--malicious")
    shown = json.loads(cli("incident", "show", "1", "--json"))
    assert shown["exposure"]["people"] == report.affected_subjects >= 55
    assert {"nationality", "residence_status", "family_name"} <= set(shown["exposure"]["by_field"])
    assert shown["risk_assessment"]["notify_people"] is True
    cli("incident", "authority-pack", "1", "--out", str(tmp_path / "pack"), "--no-pdf")
    pack = json.loads((tmp_path / "pack" / "incident-1-phase-1.json").read_text())
    for _, key in SECTIONS:
        assert pack[key], key
    assert pack["people"]["approximate_number"] == report.affected_subjects
    assert pack["likely_consequences"]["level"] == "high"
