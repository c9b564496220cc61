"""Fixtures for the detection tests: a provider with a scope, keys, and a clock to drive."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from vigie.audit.seals import reseal
from vigie.fingerprint.canaries import plant
from vigie.gateway.observe import Access
from vigie.processors.apply import apply_file
from vigie.processors.counts import recount
from vigie.processors.directory import get_processor
from vigie.processors.keys import issue_key
from vigie.processors.models import Assignment, Contract

from ..people import add_people, person

ACTOR = "operator:test"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday morning

PROCESSORS_YAML = """\
processors:
  - name: lingua-test
    legal_name: "Lingua Test SAS (fictitious)"
    siren: "732100003"
    contact_email: dpo@lingua.example
    security_officer: "Claire Martin"
    region: "84"
    contracts:
      - name: language
        purpose: language-training
        legal_basis: "GDPR Art. 6(1)(e)"
        reference: "OFII-TEST-1"
        valid_from: 2024-01-01
        read_fields: [pseudonym, given_name, email]
        masks: {}
        write_fields: [attendance_hours]
        budget: {per_day: 5000, per_30_days: 50000}
        expected_per_day: 40
        rate_per_minute: 600
"""


def make_subjects(session: Session, n: int, *, start: int = 1, canary_every: int = 0) -> list[int]:
    """``n`` synthetic people with ids ``start``…; every ``canary_every``-th is a canary,
    planted as canaries are (flag and ``canary:plant`` event)."""
    since = T0 - timedelta(days=400)
    ids = add_people(
        session,
        (
            person(i, ref=f"DET-{i:08d}", phone=f"+3361{i:07d}", valid_from=since)
            for i in range(start, start + n)
        ),
    )
    if canary_every:
        plant(session, subject_ids=[i for i in ids if i % canary_every == 0], actor=ACTOR)
    return ids


@dataclass
class World:
    """A provider ``lingua-test`` with ``scope`` assigned people and two keys."""

    sessions: sessionmaker[Session]
    processor_id: int
    key_ids: list[int]
    tokens: list[str]
    scope: list[int]
    outside: list[int]
    now: datetime = T0
    seq: int = field(default=0)

    def access(self, subject_ids: list[int] | None = None, **kw: object) -> Access:
        """An access at the world's current time (advance it with ``tick``)."""
        self.seq += 1
        base: dict[str, object] = {
            "at": self.now,
            "processor_id": self.processor_id,
            "key_id": self.key_ids[0],
            "origin": "192.0.2.10",
            "kind": "read",
            "subject_ids": tuple(subject_ids or ()),
            "audit_seq": self.seq,
        }
        base.update(kw)
        return Access(**base)  # type: ignore[arg-type]

    def tick(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def world(sessions: sessionmaker[Session], tmp_path: Path) -> Iterator[World]:
    spec = tmp_path / "processors.yaml"
    spec.write_text(PROCESSORS_YAML)
    with sessions.begin() as session:
        apply_file(session, path=spec, actor=ACTOR)
        processor = get_processor(session, name="lingua-test")
        contract = session.query(Contract).filter_by(processor_id=processor.id).one()
        people = make_subjects(session, 1200, canary_every=50)
        scope, outside = people[:1000], people[1000:]
        session.execute(
            insert(Assignment),
            [
                {
                    "contract_id": contract.id,
                    "processor_id": processor.id,
                    "subject_id": s,
                    "starts_on": date(2025, 1, 1),
                    "ends_on": None,
                }
                for s in scope
            ],
        )
        recount(session, processor_id=processor.id)  # as the import path does
        reseal(session, actor=ACTOR)  # the assignments written directly, sealed as they are
        keys = [issue_key(session, processor="lingua-test", actor=ACTOR) for _ in range(3)]
        pid = processor.id
    yield World(
        sessions=sessions,
        processor_id=pid,
        key_ids=[k.key_id for k in keys],
        tokens=[k.token for k in keys],
        scope=scope,
        outside=outside,
    )
