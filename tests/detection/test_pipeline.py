"""The pipeline end to end on a real database: record, detect, contain, alert, incident."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from vigie.breach.models import Incident
from vigie.detection.models import Alert
from vigie.detection.pipeline import DetectionConfig, DetectionPipeline
from vigie.errors import BudgetExceeded
from vigie.processors.assignments import import_assignments
from vigie.processors.models import ApiKey, Processor
from vigie.registry.models import Subject

from .conftest import World


def _alerts(world: World) -> list[Alert]:
    with world.sessions() as s:
        return list(s.scalars(select(Alert).order_by(Alert.id)))


def test_refuses_an_empty_detector_list() -> None:
    with pytest.raises(ValueError, match="at least one detector"):
        DetectionPipeline(detectors=[])


def test_normal_work_raises_nothing(world: World) -> None:
    pipeline = DetectionPipeline()
    cohort = world.scope[:20]
    for _day in range(2):
        for person in cohort:
            with world.sessions.begin() as s:
                pipeline.observe(s, world.access([person]))
            world.tick(timedelta(minutes=3))
        world.tick(timedelta(days=1) - timedelta(minutes=90))
    assert _alerts(world) == []


def test_bulk_read_suspends_the_key_within_the_bounded_delay(world: World) -> None:
    pipeline = DetectionPipeline()
    taken = 0
    for page in range(10):
        people = world.scope[page * 100 : page * 100 + 100]
        with world.sessions.begin() as s:
            key = s.get(ApiKey, world.key_ids[0])
            assert key is not None
            if key.suspended_at is not None:
                break
            pipeline.observe(s, world.access(people, kind="list", cursor_position=len(people)))
        taken += len(people)
        world.tick(timedelta(seconds=2))
    # A fifth of a 1,000-people scope in a few seconds: the sweep rule suspends the key.
    assert taken == 200
    alerts = _alerts(world)
    assert {a.detector for a in alerts} >= {"volume", "sweep"}
    suspended = [a for a in alerts if a.containment == "suspend_key"]
    assert len(suspended) == 1
    evidence = suspended[0].evidence
    assert evidence["audit_seq_from"] == 1 and evidence["audit_seq_to"] == 2
    with world.sessions() as s:
        key = s.get(ApiKey, world.key_ids[0])
        incident = s.scalars(select(Incident)).one()
    assert key is not None and key.suspended_at is not None
    assert incident.processor_id == world.processor_id and incident.source == "alert"
    assert all(a.incident_id == incident.id for a in alerts if a.severity != "low")


def test_throttle_refuses_until_it_ends(world: World) -> None:
    pipeline = DetectionPipeline(config=DetectionConfig(throttle_for=timedelta(minutes=10)))
    with world.sessions.begin() as s:
        for _ in range(20):
            pipeline.observe(s, world.access(not_found=True, status=404))
    with world.sessions.begin() as s, pytest.raises(BudgetExceeded) as caught:
        pipeline.observe(s, world.access([1]))
    assert 0 < caught.value.retry_after <= 601
    with world.sessions.begin() as s:  # another key of the processor is not throttled
        pipeline.observe(s, world.access([1], key_id=world.key_ids[1]))
    world.tick(timedelta(minutes=11))
    with world.sessions.begin() as s:
        pipeline.observe(s, world.access([1]))
    assert [a.containment for a in _alerts(world)] == ["throttle"]


def test_probe_is_contained_before_200_failures(world: World) -> None:
    pipeline = DetectionPipeline(config=DetectionConfig(throttle_for=timedelta(minutes=1)))
    failures = 0
    while failures < 200:
        with world.sessions() as s:
            key = s.get(ApiKey, world.key_ids[0])
            assert key is not None
            if key.suspended_at is not None:
                break
        with world.sessions.begin() as s:  # ten refused look-ups per transaction
            for _ in range(10):
                pipeline.observe(s, world.access(not_found=True, status=404))
        failures += 10
        world.tick(timedelta(seconds=30))
    assert failures == 100
    assert [a.severity for a in _alerts(world)] == ["medium", "high"]  # one per window


def test_several_keys_suspend_the_processor(world: World) -> None:
    pipeline = DetectionPipeline()
    for page in range(12):
        key_id = world.key_ids[page % 3]
        people = world.scope[page * 80 : page * 80 + 80]
        with world.sessions.begin() as s:
            processor = s.get(Processor, world.processor_id)
            assert processor is not None
            if processor.suspended_at is not None:
                break
            try:
                pipeline.observe(s, world.access(people, key_id=key_id))
            except BudgetExceeded:
                continue
        world.tick(timedelta(seconds=5))
    with world.sessions() as s:
        processor = s.get(Processor, world.processor_id)
    assert processor is not None and processor.suspended_at is not None
    assert "multikey" in {a.detector for a in _alerts(world)}
    assert "suspend_processor" in {a.containment for a in _alerts(world)}


def test_an_alert_is_raised_once_per_window(world: World) -> None:
    pipeline = DetectionPipeline()
    with world.sessions.begin() as s:
        pipeline.observe(s, world.access([1]))
    world.tick(timedelta(days=4))
    with world.sessions.begin() as s:
        pipeline.observe(s, world.access([1], origin="203.0.113.9"))
        pipeline.observe(s, world.access([2], origin="203.0.113.10"))
        pipeline.observe(s, world.access([3], origin="198.51.100.1"))
    alerts = _alerts(world)
    assert [(a.detector, a.evidence["network"]) for a in alerts] == [
        ("new-origin", "203.0.113.0/24"),
        ("new-origin", "198.51.100.0/24"),
    ]
    assert all(a.containment == "alert" and a.incident_id is None for a in alerts)


def test_a_small_scope_read_whole_in_a_second_suspends_the_key(
    world: World, tmp_path: Path
) -> None:
    """121 people, the whole scope, in two pages one second apart (issue 20, finding 6)."""
    small = world.scope[:121]
    with world.sessions.begin() as s:
        refs = s.scalars(select(Subject.ref).where(Subject.id.in_(small)))
        path = tmp_path / "small.csv"
        path.write_text("ref,starts_on\n" + "".join(f"{r},2025-01-01\n" for r in refs))
        import_assignments(
            s, processor="lingua-test", contract="language", path=path, actor="operator:test",
            replace=True,
        )  # fmt: skip
    pipeline = DetectionPipeline()
    for page in (small[:100], small[100:]):
        with world.sessions.begin() as s:
            pipeline.observe(s, world.access(page, kind="list", cursor_position=len(page)))
        world.tick(timedelta(seconds=1))
    most = [a for a in _alerts(world) if a.detector == "sweep"]
    assert [(a.evidence["rule"], a.severity, a.containment) for a in most] == [
        ("most", "high", "suspend_key")
    ]
    assert most[0].evidence["scope_size"] == 121
    with world.sessions() as s:
        key = s.get(ApiKey, world.key_ids[0])
    assert key is not None and key.suspended_at is not None
