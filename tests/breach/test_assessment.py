"""Assessing an incident on a real database: the declared population context is weighed,
an undeclared one stops the assessment, and the DPO overrules with a reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from vigie.audit.actions import Action
from vigie.audit.models import EVENTS
from vigie.breach import incidents
from vigie.breach.assessment import assess_incident, overrule_incident
from vigie.breach.clock import FixedClock
from vigie.breach.from_leak import open_from_leak
from vigie.breach.models import Incident
from vigie.breach.notify import require_decision
from vigie.breach.risk import RiskAssessment
from vigie.cli.app import app
from vigie.cli.context import Instance
from vigie.errors import ConfigError, Denied, InvalidInput
from vigie.registry.population import PopulationContext, declare_population
from vigie.settings import Settings

from .conftest import PEOPLE, make_subject

ACTOR = "operator:test"
# A civic-training provider's list put on sale: names, contacts, birth year, city, CIR
# date, preferred language — no nationality, no residence status or reason.
COLUMNS = {
    "nom": "full_name",
    "courriel": "email",
    "telephone": "phone",
    "annee_naissance": "birth_date",
    "ville": "city",
    "date_cir": "cir_signed_on",
    "langue": "preferred_language",
}


def _cir_list_incident(s: Session, clock: FixedClock) -> int:
    report = {
        "affected_subjects": [f"CIR-2025-{i:06d}" for i in range(1, len(PEOPLE) + 1)],
        "columns": COLUMNS,
    }
    incident = open_from_leak(s, report=report, actor=ACTOR, aware_at=clock.now(), clock=clock)
    return incident.id


def test_cir_list_on_sale_is_high_because_of_the_declared_population(
    sessions: sessionmaker[Session], subject_ids: list[int], clock: FixedClock
) -> None:
    with sessions.begin() as s:
        incident_id = _cir_list_incident(s, clock)
        got = assess_incident(s, incident_id=incident_id, actor=ACTOR, malicious=True, clock=clock)
    assert (got.level, got.notify_authority, got.notify_people) == ("high", True, True)
    with sessions() as s:
        stored = s.get(Incident, incident_id)
        assert stored is not None and stored.risk is not None
        reasons = " ".join(f["reason"] for f in stored.risk["factors"])
        assert "recent immigration" in reasons and "refugees and asylum seekers" in reasons
        assert stored.risk["population"]["vulnerable"] is True
        event = incidents.timeline(s, incident_id=incident_id)[-1]
        assert event.kind == "risk" and event.detail["population_declaration"] >= 1
        require_decision(s, incident_id=incident_id, despite_assessment=None)  # notices go


def test_the_same_list_from_a_registry_revealing_nothing_stays_medium(
    sessions: sessionmaker[Session], subject_ids: list[int], clock: FixedClock
) -> None:
    with sessions.begin() as s:
        declare_population(
            s, context=PopulationContext(vulnerable=True, vulnerable_why="elderly, alone"),
            actor=ACTOR,
        )  # fmt: skip
        incident_id = _cir_list_incident(s, clock)
        got = assess_incident(s, incident_id=incident_id, actor=ACTOR, malicious=True, clock=clock)
    assert (got.level, got.notify_people) == ("medium", False)


def test_no_assessment_without_a_declared_population(
    sessions: sessionmaker[Session], clock: FixedClock
) -> None:
    with sessions.begin() as s:
        s.add_all([make_subject(i, *p) for i, p in enumerate(PEOPLE[:3], start=1)])
        s.flush()
        incident_id = _cir_list_incident(s, clock)
    with sessions.begin() as s, pytest.raises(ConfigError, match="population context"):
        assess_incident(s, incident_id=incident_id, actor=ACTOR)
    with sessions() as s:
        assert s.get(Incident, incident_id).risk is None  # type: ignore[union-attr]


def test_the_dpo_overrules_with_a_reason_and_notices_may_go(
    sessions: sessionmaker[Session], subject_ids: list[int], clock: FixedClock
) -> None:
    with sessions.begin() as s:
        inc = incidents.open_incident(
            s, title="t", source="manual", aware_at=clock.now(), actor=ACTOR, clock=clock
        )
        incidents.record_exposure(
            s,
            incident_id=inc.id,
            exposures={subject_ids[0]: ["course_hours"]},
            actor=ACTOR,
            clock=clock,
        )
        with pytest.raises(InvalidInput, match="no risk assessment"):
            overrule_incident(s, incident_id=inc.id, notify_people=True, reason="x", actor=ACTOR)
        computed = assess_incident(s, incident_id=inc.id, actor=ACTOR, clock=clock)
        assert not computed.notify_people
        with pytest.raises(Denied, match="does not call for notices"):
            require_decision(s, incident_id=inc.id, despite_assessment=None)
        with pytest.raises(InvalidInput, match="reason"):
            overrule_incident(s, incident_id=inc.id, notify_people=True, reason=" ", actor=ACTOR)
        got = overrule_incident(
            s, incident_id=inc.id, notify_people=True, reason="she asked to be told",
            actor="operator:dpo", clock=clock,
        )  # fmt: skip
        assert got.notify_people and got.level == computed.level
    with sessions() as s:
        require_decision(s, incident_id=inc.id, despite_assessment=None)  # notices may go
        stored = s.get(Incident, inc.id)
        assert stored is not None and stored.risk is not None
        assert stored.risk["override"]["reason"] == "she asked to be told"
        assert stored.risk["override"]["by"] == "operator:dpo"
        last = incidents.timeline(s, incident_id=inc.id)[-1]
        assert last.kind == "risk_override" and "she asked to be told" in last.summary
        action = s.execute(select(EVENTS.c.action).where(EVENTS.c.seq == last.audit_seq)).scalar()
        assert action == Action.INCIDENT_DECIDE.value


def test_cli_declares_shows_and_overrules(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, list(args), obj=Instance(settings=settings, _engine=engine))
        assert result.exit_code == 0, result.output
        return result.output

    assert "no population context declared" in run("subjects", "population")
    path = tmp_path / "population.yaml"
    path.write_text("membership_reveals: a stay in a shelter\nvulnerable: false\n")
    assert "declared" in run("subjects", "population", str(path))
    shown = json.loads(run("subjects", "population", "--json"))
    assert shown["membership_reveals"] == "a stay in a shelter" and shown["changed"] is False
    path.write_text("vulnerable: maybe\n")
    bad = runner.invoke(
        app, ["subjects", "population", str(path)], obj=Instance(settings=settings, _engine=engine)
    )
    assert bad.exit_code == 1 and "vulnerable" in bad.output
    run("incident", "open", "--title", "lost list", "--aware-at", "2026-01-12T09:00:00+00:00")
    run("incident", "assess", "1")
    out = run("incident", "overrule", "1", "--notify-people", "--reason", "shelter residents")
    assert "DPO's decision" in out and "shelter residents" in out


def test_undeclared_recipients_of_a_leaked_file_are_pointed_out(
    sessions: sessionmaker[Session], subject_ids: list[int], clock: FixedClock
) -> None:
    """A file found outside reached someone: the reasoning asks for the recipients."""
    with sessions.begin() as s:
        incident_id = _cir_list_incident(s, clock)
        undeclared = assess_incident(s, incident_id=incident_id, actor=ACTOR, clock=clock)
        declared = assess_incident(
            s, incident_id=incident_id, actor=ACTOR, recipients="unknown", clock=clock
        )
        manual = incidents.open_incident(
            s, title="t", source="manual", aware_at=clock.now(), actor=ACTOR, clock=clock
        )
        incidents.record_exposure(
            s, incident_id=manual.id, exposures={subject_ids[0]: ["email"]}, actor=ACTOR,
            clock=clock,
        )  # fmt: skip
        quiet = assess_incident(s, incident_id=manual.id, actor=ACTOR, clock=clock)
        # A detection alert's incident that a leak report then fed (as in the demo).
        alert = incidents.open_incident(
            s, title="a", source="alert", aware_at=clock.now(), actor=ACTOR, clock=clock
        )
        incidents.record_exposure(
            s, incident_id=alert.id, exposures={subject_ids[0]: ["email"]}, actor=ACTOR,
            clock=clock,
        )  # fmt: skip
        before_leak = assess_incident(s, incident_id=alert.id, actor=ACTOR, clock=clock)
        incidents.add_evidence(
            s, incident_id=alert.id, kind="leak", ref="leak/report.json",
            detail={"affected_subjects": 1}, actor=ACTOR, clock=clock,
        )  # fmt: skip
        fed = assess_incident(s, incident_id=alert.id, actor=ACTOR, clock=clock)

    def recipients(got: RiskAssessment) -> tuple[float, str]:
        factor = next(f for f in got.factors if f.name == "recipients")
        return factor.rating, factor.reason

    rating, reason = recipients(undeclared)
    assert rating == 0.0 and "leaked file" in reason and "--recipients unknown" in reason
    assert recipients(declared)[0] == 0.5
    assert declared.severity == undeclared.severity + 0.5
    for got in (quiet, before_leak):
        rating, reason = recipients(got)
        assert rating == 0.0 and "no recipient declared" in reason and "leaked" not in reason
    assert "leaked file" in recipients(fed)[1]
