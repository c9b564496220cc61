"""deploy/: the alert rules and the dashboard read only series Vigie exports, and are valid.

With ``promtool`` installed (Debian: ``apt-get install prometheus``) the rules are checked
and their unit tests run (``deploy/prometheus/vigie-alerts.test.yaml``: each alert fires
on the series that should fire it, and not on the others), the example configuration is
checked, and every query of the dashboard is parsed as PromQL. Without it, the same files
are checked for shape only, and those tests say they were skipped.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

import vigie.ops.metrics  # noqa: F401 - registers every metric

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "deploy" / "prometheus"
RULES = PROM / "vigie-alerts.yaml"
DASHBOARD = ROOT / "deploy" / "grafana" / "vigie-dashboard.json"
SERIES = re.compile(r"\bvigie_[a-z0-9_]+")
PROMTOOL = shutil.which("promtool")
if PROMTOOL is None and os.environ.get("VIGIE_TEST_REQUIRE_PROMTOOL") == "1":
    raise RuntimeError("promtool is required (VIGIE_TEST_REQUIRE_PROMTOOL=1) and not installed")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed")


def _exported() -> set[str]:
    """Every series name Vigie's metrics can export (counters' _total, histograms' parts)."""
    names = set()
    for metric in REGISTRY.collect():
        if not metric.name.startswith("vigie_"):
            continue
        kind = metric.type
        if kind == "counter":
            names |= {f"{metric.name}_total", f"{metric.name}_created"}
        elif kind == "histogram":
            names |= {f"{metric.name}_{s}" for s in ("bucket", "count", "sum", "created")}
        else:
            names.add(metric.name)
    return names


def _rules() -> list[dict[str, Any]]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


def _dashboard_exprs() -> list[str]:
    dash = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dash["panels"] for t in p.get("targets", ())]


def test_the_alerts_asked_for_exist_with_a_severity_and_words_for_the_operator() -> None:
    rules = {r["alert"]: r for r in _rules()}
    for name in (
        "VigieCheckpointTooOld",
        "VigieAuditAppendFailing",
        "VigieProcessorBudgetHigh",
        "VigieDetectorFiring",
        "VigieJobQueueStuck",
    ):
        assert name in rules
    for rule in rules.values():
        assert rule["labels"]["severity"] in {"page", "warning"}
        assert rule["annotations"]["summary"].strip()
        assert rule["annotations"]["description"].strip()


def test_rules_and_dashboard_read_only_series_vigie_exports() -> None:
    exported = _exported()
    tests = (PROM / "vigie-alerts.test.yaml").read_text()
    used = {
        "rules": {n for r in _rules() for n in SERIES.findall(r["expr"])},
        "dashboard": {n for e in _dashboard_exprs() for n in SERIES.findall(e)},
        "rule tests": set(SERIES.findall(tests)) - {"vigie_alerts"},
    }
    for where, names in used.items():
        assert names, where
        assert names <= exported, f"{where} read series nobody exports: {names - exported}"


def test_the_dashboard_is_importable() -> None:
    dash = json.loads(DASHBOARD.read_text())
    assert dash["uid"] and dash["title"] == "Vigie"
    assert any(i["type"] == "datasource" for i in dash["__inputs"])
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dash["panels"]:
        if panel["type"] != "row":
            assert panel["targets"] and panel["datasource"]["uid"] == "${datasource}"


def _promtool(*args: str, cwd: Path = PROM) -> str:
    assert PROMTOOL is not None
    done = subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@needs_promtool
def test_promtool_checks_the_rules_and_their_unit_tests_pass() -> None:
    assert "SUCCESS" in _promtool("check", "rules", RULES.name)
    assert "SUCCESS" in _promtool("test", "rules", "vigie-alerts.test.yaml")
    assert "SUCCESS" in _promtool("check", "config", "prometheus.example.yaml")


@needs_promtool
def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    rules = [
        {
            "record": f"vigie:dashboard_{i}",
            "expr": e.replace("$__rate_interval", "5m")
            .replace("$listener", ".*")
            .replace("$processor", ".*"),
        }
        for i, e in enumerate(_dashboard_exprs())
    ]
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    assert f"SUCCESS: {len(rules)} rules found" in _promtool("check", "rules", str(path))
