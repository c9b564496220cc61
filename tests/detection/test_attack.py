"""The attack and legitimate-traffic simulators against the real gateway, over loopback HTTP."""

from __future__ import annotations

import random
import shutil
from collections import deque
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select

from vigie.detection.attack import AttackConfig, run_attack
from vigie.detection.legit import Routine, run_day
from vigie.detection.loopback import serve
from vigie.detection.models import Alert
from vigie.detection.pacing import DrivenClock, DrivenPacer, RealPacer
from vigie.detection.pipeline import DetectionPipeline
from vigie.errors import InvalidInput
from vigie.fingerprint.pseudonyms import Pseudonymiser
from vigie.gateway.app import create_app
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings

from .conftest import World


@pytest.fixture
def db_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only: these run whole simulations over HTTP; the pipeline's behaviour on
    PostgreSQL (locks, upserts) is covered by test_pipeline and test_state."""
    path = tmp_path / "vigie.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def gateway(
    world: World, settings: Settings, engine: Engine, secrets: InstanceSecrets
) -> Iterator[tuple[str, DrivenClock]]:
    clock = DrivenClock(world.now)
    app = create_app(
        settings,
        observers=[DetectionPipeline()],
        engine=engine,
        secrets=secrets,
        clock=clock,
    )
    with serve(app) as url:
        yield url, clock


def _attack(gateway: tuple[str, DrivenClock], tokens: list[str], **kw: object) -> dict[str, object]:
    url, clock = gateway
    config = AttackConfig(**kw)  # type: ignore[arg-type]
    return run_attack(url=url, tokens=tokens, config=config, pacer=DrivenPacer(clock)).as_dict()


def test_bulk_is_stopped_by_suspension(world: World, gateway: tuple[str, DrivenClock]) -> None:
    report = _attack(gateway, world.tokens[:1], strategy="bulk")
    assert report["stopped"] is True and report["stop_status"] == 403
    assert 0 < report["people"] <= 300  # type: ignore[operator]
    with world.sessions() as s:
        containment = set(s.scalars(select(Alert.containment)))
    assert "suspend_key" in containment


def test_multikey_suspends_the_processor(world: World, gateway: tuple[str, DrivenClock]) -> None:
    report = _attack(gateway, world.tokens, strategy="multikey")
    assert report["stopped"] is True
    assert report["people"] <= 400  # type: ignore[operator]
    with world.sessions() as s:
        containment = set(s.scalars(select(Alert.containment)))
    assert "suspend_processor" in containment


def test_probe_is_stopped_after_100_failures(
    world: World, gateway: tuple[str, DrivenClock]
) -> None:
    report = _attack(gateway, world.tokens[:1], strategy="probe")
    assert report["stopped"] is True
    assert report["failed_lookups"] == 100 and report["people"] == 0


def test_mimic_gives_up_at_its_deadline_or_is_caught(
    world: World, gateway: tuple[str, DrivenClock]
) -> None:
    report = _attack(gateway, world.tokens[:1], strategy="mimic", max_days=2, per_day=20)
    assert report["people"] <= 3 * 20  # type: ignore[operator]  # Mon, Tue, Wed morning
    assert report["stopped"] is False  # a new processor: no week of history to compare


def test_every_obtained_person_is_in_scope(
    world: World, gateway: tuple[str, DrivenClock], secrets: InstanceSecrets
) -> None:
    url, clock = gateway
    report = run_attack(
        url=url,
        tokens=world.tokens[:1],
        config=AttackConfig(strategy="sweep"),
        pacer=DrivenPacer(clock),
    )
    names = Pseudonymiser(secrets, world.processor_id)
    obtained = {names.decode(p) for p in report.pseudonyms}
    assert obtained and obtained <= set(world.scope)


def test_refuses_bad_arguments(gateway: tuple[str, DrivenClock]) -> None:
    url, _ = gateway
    with pytest.raises(InvalidInput, match="several keys"):
        run_attack(
            url=url, tokens=["k"], config=AttackConfig(strategy="multikey"), pacer=RealPacer()
        )
    with pytest.raises(InvalidInput, match="strategy"):
        run_attack(url=url, tokens=["k"], config=AttackConfig(strategy="steal"), pacer=RealPacer())


def test_a_week_of_legitimate_work_raises_no_alert(
    world: World, gateway: tuple[str, DrivenClock], secrets: InstanceSecrets
) -> None:
    url, clock = gateway
    names = Pseudonymiser(secrets, world.processor_id)
    routine = Routine(
        name="lingua-test",
        token=world.tokens[0],
        cohort_size=10,
        intake=deque(names.encode(s) for s in world.scope[:200]),
        typo_rate=0.0,
    )
    rng = random.Random(3)
    routine.start(world.now.date(), rng)
    statuses: dict[int, int] = {}
    with httpx.Client(base_url=url) as client:
        for d in range(7):
            day = run_day(
                client,
                clock=clock,
                routines=[routine],
                day=world.now.date() + timedelta(days=d),
                rng=rng,
            )
            for status, n in day.statuses.items():
                statuses[status] = statuses.get(status, 0) + n
    assert set(statuses) == {200, 201}, statuses
    with world.sessions() as s:
        assert s.scalars(select(Alert)).all() == []


def test_attack_command_reports_as_json(world: World, gateway: tuple[str, DrivenClock]) -> None:
    import json

    from typer.testing import CliRunner

    from vigie.cli.app import app

    url, _ = gateway
    args = ["attack", "--url", url, "--key", world.tokens[0], "--strategy", "sweep"]
    result = CliRunner().invoke(
        app, [*args, "--max-requests", "3", "--time-scale", "1000", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["requests"] == 3 and report["people"] == 150 and report["stopped"] is False
    bad = CliRunner().invoke(app, [*args[:-1], "steal"])
    assert bad.exit_code == 1 and "--strategy must be one of" in bad.output
