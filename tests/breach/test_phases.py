"""An incident's phases are read from its timeline: reached at the first event of each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vigie.breach.models import IncidentEvent
from vigie.breach.phases import PHASES, phases

T0 = datetime(2026, 1, 12, 9, 30, tzinfo=UTC)


def _event(kind: str, hours: int, actor: str = "operator:dora") -> IncidentEvent:
    return IncidentEvent(kind=kind, at=T0 + timedelta(hours=hours), actor=actor, summary=kind)


def test_phases_from_the_timeline() -> None:
    timeline = [
        _event("open", 0, "operator:cli"),
        _event("exposure", 1),
        _event("risk", 2),
        _event("risk_override", 3, "operator:claire"),
        _event("authority_pack", 4),
        _event("authority_pack", 5),
        _event("notify_queued", 6),  # queued is not sent
    ]
    got = {p.name: p for p in phases(timeline)}
    assert [p.name for p in phases(timeline)] == [name for name, _ in PHASES]
    assert got["opened"].reached_at == T0 and got["opened"].actor == "operator:cli"
    assert got["risk assessed"].reached_at == T0 + timedelta(hours=2)
    assert got["risk assessed"].events == 2
    assert got["authority pack prepared"].events == 2
    for name in ("notices sent", "public page published", "closed"):
        assert got[name].reached_at is None and got[name].actor is None


def test_no_timeline_no_phase() -> None:
    assert all(p.reached_at is None and p.events == 0 for p in phases([]))
