"""The demo replays the case end to end, and fails loudly when containment is broken."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rich.console import Console

from vigie.console.auth import PasswordCost, verify_password
from vigie.console.operators import get_operator
from vigie.demo.steps import DemoFailure, claim
from vigie.demo.story import Demo, DemoOptions
from vigie.demo.world import World
from vigie.errors import InvalidInput
from vigie.store.engine import make_engine, make_session_factory

pytestmark = pytest.mark.slow


def test_claim_raises_with_its_message() -> None:
    claim(True, "never shown")
    with pytest.raises(DemoFailure, match="not contained"):
        claim(False, "the attack was not contained")


def test_demo_runs_every_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # `make demo` writes under a relative directory
    console = Console(record=True, width=120)
    outcome = Demo(DemoOptions(out=Path("demo-output"), people=3000, days=3), console).run()
    text = console.export_text()
    assert "Demo complete" in text
    flat = " ".join(text.split())
    assert re.search(r"events and [1-9]\d* checkpoint\(s\) verified, consistent with", flat)
    assert 0 < outcome.stolen <= outcome.normal_day + 500
    assert outcome.stolen_outside_scope == 0
    assert outcome.leak_attribution[0]["processor"] == outcome.victim
    assert outcome.affected == outcome.stolen
    assert sum(outcome.notices.values()) > 0
    for path in outcome.outputs.values():
        assert path.exists()
    # It ends on the console: a demo DPO whose password and TOTP key work there.
    operator = outcome.console_operator
    assert operator is not None
    assert operator.login in text and operator.password in text and operator.totp_secret in text
    assert "http://127.0.0.1:8001/" in flat and "DEMO ONLY" in flat
    engine = make_engine(f"sqlite:///{Path('demo-output/data/vigie.db').resolve()}")
    with make_session_factory(engine)() as session:
        stored = get_operator(session, login=operator.login)
        verify_password(stored.password_hash, operator.password, cost=PasswordCost())
        assert stored.role == "dpo" and stored.totp_secret == operator.totp_secret
    engine.dispose()


def test_demo_fails_when_containment_is_broken(tmp_path: Path) -> None:
    console = Console(record=True, width=120)
    demo = Demo(DemoOptions(out=tmp_path / "demo", people=3000, days=3, containment=False), console)
    with pytest.raises(DemoFailure, match=r"not contained|contained too late"):
        demo.run()


def test_demo_never_replaces_what_it_did_not_make(tmp_path: Path) -> None:
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "thesis.txt").write_text("years of work")
    with pytest.raises(InvalidInput, match="not an earlier demo's output"):
        World.fresh(precious)
    assert (precious / "thesis.txt").read_text() == "years of work"
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(InvalidInput):
        World.fresh(a_file)
    again = tmp_path / "demo"
    World.fresh(again).engine.dispose()
    (again / "left-over").write_text("from the last run")
    World.fresh(again).engine.dispose()  # an earlier demo's outputs are replaced
    assert not (again / "left-over").exists()
