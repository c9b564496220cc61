"""Fixtures for the processors tests: a processor with a contract, and a few people."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from vigie.processors.apply import apply_file

from .. import people

ACTOR = "operator:test"

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
        valid_to: 2030-12-31
        read_fields: [pseudonym, given_name, birth_date, email]
        masks: {birth_date: year}
        write_fields: [attendance_hours]
        budget: {per_day: 50, per_30_days: 500}
        expected_per_day: 10
        rate_per_minute: 60
      - name: civic
        purpose: civic-training
        legal_basis: "GDPR Art. 6(1)(e)"
        reference: "OFII-TEST-2"
        valid_from: 2024-01-01
        read_fields: [pseudonym, family_name, birth_date]
        masks: {birth_date: month}
        budget: {per_day: 20, per_30_days: 200}
        rate_per_minute: 30
  - name: other-test
    legal_name: "Other Test SARL (fictitious)"
    siren: "732101373"
    contact_email: dpo@other.example
    security_officer: "Julien Bernard"
    contracts: []
"""


def make_subjects(session: Session, n: int, *, start: int = 1) -> list[int]:
    """``n`` synthetic people with ids ``start``…; returns their ids."""
    since = datetime(2024, 1, 1, tzinfo=UTC)
    ids = people.add_people(
        session,
        (
            people.person(i, ref=f"TEST-{i:08d}", phone=f"+336{i:08d}", valid_from=since)
            for i in range(start, start + n)
        ),
    )
    session.flush()
    return ids


@pytest.fixture
def add_people() -> Callable[..., list[int]]:
    """:func:`make_subjects`, as a fixture (test modules cannot import conftest safely)."""
    return make_subjects


@pytest.fixture
def processors_file(tmp_path: Path) -> Path:
    path = tmp_path / "processors.yaml"
    path.write_text(PROCESSORS_YAML)
    return path


@pytest.fixture
def applied(sessions: sessionmaker[Session], processors_file: Path) -> sessionmaker[Session]:
    """The test processors file applied; returns the session factory."""
    with sessions.begin() as session:
        apply_file(session, path=processors_file, actor=ACTOR)
    return sessions
