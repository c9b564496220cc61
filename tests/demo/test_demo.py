"""The demo replays the case end to end, and fails loudly when containment is broken."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rich.console import Console

from tests.demo_run import DAYS, PEOPLE, DemoRun
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


def _figure(pattern: str, text: str) -> int:
    found = re.search(pattern, text)
    assert found, pattern
    return int(found.group(1).replace(",", ""))


def test_demo_runs_every_step(demo_run: DemoRun) -> None:
    """The session's ``vigie demo`` run (tests/demo_run.py). Each step's claims are checked
    by the demo itself, which exits non-zero on the first that fails (containment within a
    normal day + 500 people, nobody outside the scope, the leak attributed to the victim,
    every stolen person found affected, notices sent: see the next test)."""
    demo_run.check()
    flat = " ".join(demo_run.stdout.split())
    assert "Demo complete" in flat
    assert re.search(r"events and [1-9]\d* checkpoint\(s\) verified, consistent with", flat)
    normal_day = _figure(r"normal day ([\d,]+) people", flat)
    stolen = _figure(r"it obtained ([\d,]+) people", flat)
    assert 0 < stolen <= normal_day + 500
    assert re.search(r"\b0 outside its scope", flat)
    out = demo_run.out
    for made in ("leak/report.html", "mail", "audit-export", "data/vigie.db"):
        assert (out / made).exists(), made
    assert list((out / "mail").iterdir())  # the e-mail notices
    # It ends on the console: a demo DPO whose password and TOTP key work there.
    login = re.search(r"DEMO ONLY: login (\S+) \(role dpo\)", flat)
    password = re.search(r"password: (\S+)", flat)
    totp = re.search(r"TOTP key: ([A-Z2-7]+)", flat)
    assert login and password and totp
    assert "http://127.0.0.1:8001/" in flat
    engine = make_engine(f"sqlite:///{(out / 'data' / 'vigie.db').resolve()}")
    with make_session_factory(engine)() as session:
        stored = get_operator(session, login=login.group(1))
        verify_password(stored.password_hash, password.group(1), cost=PasswordCost())
        assert stored.role == "dpo" and stored.totp_secret == totp.group(1)
    engine.dispose()


def test_demo_fails_when_containment_is_broken(tmp_path: Path) -> None:
    console = Console(record=True, width=120)
    options = DemoOptions(out=tmp_path / "demo", people=PEOPLE, days=DAYS, containment=False)
    demo = Demo(options, console)
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
