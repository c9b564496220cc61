"""The compliance report: providers × requirements, and the trend since the last campaign."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from vigie.requirements.campaigns import start_campaign
from vigie.requirements.report import compliance, to_csv, to_html
from vigie.requirements.spec import parse_requirements

from .conftest import ACTOR, LATER, NOW, REQUIREMENTS_YAML, Invoke


def test_report_rows_and_trend(baseline: sessionmaker[Session]) -> None:
    raised = REQUIREMENTS_YAML.replace(
        "  - id: contacts\n    version: 1", "  - id: contacts\n    version: 2"
    )
    with baseline.begin() as s:
        start_campaign(s, parsed=parse_requirements(raised), actor=ACTOR, now=NOW)
    with baseline.begin() as s:
        report = compliance(s, at=LATER)
    rows = list(csv.DictReader(io.StringIO(to_csv(report))))
    assert len(rows) == 8  # 2 providers × 4 requirements
    bad = {r["requirement"]: r for r in rows if r["processor"] == "bad-test"}
    assert bad["contacts"]["version"] == "2"
    assert bad["contacts"]["phase"] == "overdue"
    assert bad["contacts"]["reasons"] == "no 24/7 security contact"
    assert report.campaign is not None and report.campaign["id"] == 1
    assert report.trend["good-test"] == {"before": {"met": 3, "total": 4},
                                         "now": {"met": 3, "total": 4}}  # fmt: skip
    html = to_html(report)
    assert "no 24/7 security contact" in html and "Trend since campaign 1" in html


def test_report_command(cli: Invoke, baseline: sessionmaker[Session], tmp_path: Path) -> None:
    result = cli(["requirements", "report", "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r" / "compliance.pdf").read_bytes().startswith(b"%PDF-")
    assert (tmp_path / "r" / "compliance.csv").read_text().startswith("processor,requirement")
