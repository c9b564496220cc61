"""The requirements' tables are evidence: a change behind Vigie's back fails verification."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from vigie.audit.verify import verify_trail
from vigie.errors import IntegrityError
from vigie.processors.directory import get_processor
from vigie.requirements.attestations import Submission, record_attestation
from vigie.requirements.inspections import record_inspection
from vigie.secrets import InstanceSecrets

from .conftest import ACTOR, NOW, PDF


@pytest.fixture
def recorded(baseline: sessionmaker[Session], tmp_path: Path) -> sessionmaker[Session]:
    with baseline.begin() as s:
        good = get_processor(s, name="good-test")
        record_attestation(
            s, processor=good, actor=ACTOR, store_dir=tmp_path, now=NOW, require_signature=False,
            submission=Submission(requirement="mfa", statement="MFA everywhere.",
                                  expires_on=(NOW + timedelta(days=30)).date(), document=PDF),
        )  # fmt: skip
        record_inspection(
            s, processor=good, held_on=(NOW - timedelta(days=2)).date(), actor=ACTOR, now=NOW,
            findings=[{"text": "Weak passwords", "deadline": "2030-01-01", "closed": False}],
        )  # fmt: skip
    return baseline


TAMPERS = [
    ("UPDATE attestations SET expires_on = '2099-12-31'", "attestation 1 differs from its event"),
    ("UPDATE requirement_versions SET text_fr = 'Rien.' WHERE requirement = 'mfa'",
     "mfa v1 differs from what event"),
    ("UPDATE requirement_versions SET deadline = '2099-12-31' WHERE requirement = 'contacts'",
     "contacts v1 differs from what event"),
    ("UPDATE inspections SET findings = '[]'", "audit record 1 differs from its event"),
    ("DELETE FROM attestations", r"\(attestation:submit\) has lost its row"),
]  # fmt: skip


def test_an_untouched_store_verifies(
    recorded: sessionmaker[Session], engine: Engine, secrets: InstanceSecrets
) -> None:
    report = verify_trail(engine, public_key=secrets.verify_key)
    assert report.events > 0


@pytest.mark.parametrize(("sql", "message"), TAMPERS)
def test_a_change_behind_vigies_back_fails(
    recorded: sessionmaker[Session], engine: Engine, secrets: InstanceSecrets, sql: str,
    message: str,
) -> None:  # fmt: skip
    if engine.dialect.name == "postgresql":
        sql = sql.replace("findings = '[]'", "findings = '[]'::json")
    with engine.begin() as conn:
        conn.execute(text(sql))
    with pytest.raises(IntegrityError, match=message):
        verify_trail(engine, public_key=secrets.verify_key)
