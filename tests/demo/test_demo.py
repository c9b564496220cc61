"""The demo replays the case end to end, and fails loudly when containment is broken."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from vigie.demo.steps import DemoFailure, claim
from vigie.demo.story import Demo, DemoOptions

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
    assert 0 < outcome.stolen <= outcome.normal_day + 500
    assert outcome.stolen_outside_scope == 0
    assert outcome.leak_attribution[0]["processor"] == outcome.victim
    assert outcome.affected == outcome.stolen
    assert sum(outcome.notices.values()) > 0
    for path in outcome.outputs.values():
        assert path.exists()


def test_demo_fails_when_containment_is_broken(tmp_path: Path) -> None:
    console = Console(record=True, width=120)
    demo = Demo(DemoOptions(out=tmp_path / "demo", people=3000, days=3, containment=False), console)
    with pytest.raises(DemoFailure, match=r"not contained|contained too late"):
        demo.run()
