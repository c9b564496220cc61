"""Fixtures for the requirements tests: two processors and a baseline of requirements."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import Result
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from vigie.cli.app import app
from vigie.cli.context import Instance
from vigie.processors.apply import apply_file as apply_processors
from vigie.requirements.apply import apply_file
from vigie.settings import Settings

ACTOR = "operator:test"
Invoke = Callable[[list[str]], Result]
# Near the real time: the CLI applies with the real clock, and deadlines must be ahead.
NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
DEADLINE = (NOW + timedelta(days=50)).date()
LATER = NOW + timedelta(days=54)  # after the deadline

# The good processor signs its attestations with this (synthetic) key.
STATEMENT_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
STATEMENT_PUB = STATEMENT_KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()

PROCESSORS_YAML = """\
processors:
  - name: good-test
    legal_name: "Good Test SAS (fictitious)"
    siren: "732100003"
    contact_email: dpo@good.example
    security_officer: "Claire Martin"
    security_contact_247: "+33 1 00 00 00 01 (SOC)"
    statement_key: "{statement_key}"
    contracts:
      - name: language
        purpose: language-training
        legal_basis: "GDPR Art. 6(1)(e)"
        reference: "OFII-TEST-1"
        valid_from: 2024-01-01
        read_fields: [pseudonym, given_name]
        budget: {per_day: 50, per_30_days: 500}
        expected_per_day: 20
        rate_per_minute: 60
  - name: bad-test
    legal_name: "Bad Test SARL (fictitious)"
    siren: "732101373"
    contact_email: dpo@bad.example
    security_officer: "Julien Bernard"
    contracts:
      - name: civic
        purpose: civic-training
        legal_basis: "GDPR Art. 6(1)(e)"
        reference: "OFII-TEST-2"
        valid_from: 2024-01-01
        read_fields: [pseudonym, family_name]
        budget: {per_day: 400, per_30_days: 4000}
        expected_per_day: 20
        rate_per_minute: 30
"""

REQUIREMENTS_TEMPLATE = """\
baseline: "2027-03 test baseline"
requirements:
  - id: key-allow-list
    version: 1
    kind: enforced
    check: key-allow-list
    text:
      fr: "Chaque clé d'API est limitée à une liste d'adresses."
      en: "Every API key is restricted to an allow-list."
    deadline: {deadline}
    consequence: refuse_new_keys
    clauses: ["Security annex §4"]
  - id: budget-ratio
    version: 1
    kind: enforced
    check: budget-ratio
    text: {fr: "Budget au plus 5 fois le volume normal.", en: "Budget at most 5 x normal volume."}
    parameters: {max_ratio: 5}
    deadline: {deadline}
    consequence: reduce_budget
    reduce_budget_to: 0.5
  - id: contacts
    version: 1
    kind: enforced
    check: security-contacts
    text:
      fr: "Un responsable sécurité et un contact 24/7."
      en: "A security officer and a 24/7 contact."
    deadline: {deadline}
    consequence: suspend
  - id: mfa
    version: 1
    kind: attested
    check: mfa
    text: {fr: "MFA sur chaque compte.", en: "MFA on every account."}
    deadline: {deadline}
    consequence: warn
"""
REQUIREMENTS_YAML = REQUIREMENTS_TEMPLATE.replace("{deadline}", DEADLINE.isoformat())


@pytest.fixture
def processors(sessions: sessionmaker[Session], tmp_path: Path) -> sessionmaker[Session]:
    """The two test processors applied; returns the session factory."""
    path = tmp_path / "processors.yaml"
    path.write_text(PROCESSORS_YAML.replace("{statement_key}", STATEMENT_PUB))
    with sessions.begin() as session:
        apply_processors(session, path=path, actor=ACTOR)
    return sessions


@pytest.fixture
def requirements_file(tmp_path: Path) -> Path:
    path = tmp_path / "requirements.yaml"
    path.write_text(REQUIREMENTS_YAML, encoding="utf-8")
    return path


@pytest.fixture
def baseline(processors: sessionmaker[Session], requirements_file: Path) -> sessionmaker[Session]:
    """The processors and the baseline applied; returns the session factory."""
    with processors.begin() as session:
        apply_file(session, path=requirements_file, actor=ACTOR, now=NOW)
    return processors


@pytest.fixture
def cli(settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """Run ``vigie ARGS`` on the test instance (its settings and engine), wide output."""
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()

    def invoke(args: list[str]) -> Result:
        return runner.invoke(app, args, obj=Instance(settings=settings, _engine=engine))

    return invoke


PDF = b"%PDF-1.4\n% synthetic evidence for tests\n%%EOF\n"


@pytest.fixture
def evidence(tmp_path: Path) -> Path:
    """A (minimal) PDF evidence file."""
    path = tmp_path / "evidence.pdf"
    path.write_bytes(PDF)
    return path
