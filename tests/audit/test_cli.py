"""``vigie audit verify|checkpoint|prove|export|key`` through Typer's runner."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import Result
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from vigie.audit.actions import Action
from vigie.audit.checkpoints import fingerprint, take
from vigie.audit.trail import append
from vigie.cli.app import app
from vigie.cli.context import Instance
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings

runner = CliRunner()
PROCESSOR = """\
processors:
  - name: keyed
    legal_name: "Keyed SAS (fictitious)"
    siren: "732100003"
    contact_email: dpo@keyed.example
    security_officer: "Claire Martin"
"""


@pytest.fixture
def vigie(settings: Settings, engine: Engine, filled: list[int]) -> Callable[..., Result]:
    """Run ``vigie ARGS`` on the test instance (its engine is disposed by the fixture)."""

    def invoke(*args: str) -> Result:
        return runner.invoke(app, list(args), obj=Instance(settings=settings, _engine=engine))

    return invoke


def test_verify_ok_and_failure(vigie: Callable[..., Result], engine: Engine) -> None:
    result = vigie("audit", "verify")
    assert result.exit_code == 0, result.output
    assert "OK 40 events and 2 checkpoints verify" in result.output
    result = vigie("audit", "verify", "--json")
    assert json.loads(result.output)["events"] == 40
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = 22"))
    result = vigie("audit", "verify")
    assert result.exit_code == 1
    assert "error: event 22 missing" in result.output
    assert "Traceback" not in result.output


def test_verify_checks_the_served_index(vigie: Callable[..., Result], engine: Engine) -> None:
    result = vigie("audit", "verify")
    assert "served index: 57 rows, each what the events say" in result.output
    assert json.loads(vigie("audit", "verify", "--json").output)["index_rows"] == 57
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_disclosures WHERE processor_id = 1"))
    result = vigie("audit", "verify")
    assert result.exit_code == 1
    assert "error: served index: processor 1 received person id" in result.output
    assert "Traceback" not in result.output


def test_checkpoint_then_prove(vigie: Callable[..., Result], tmp_path: Path) -> None:
    result = vigie("audit", "checkpoint", "--json")
    assert result.exit_code == 0, result.output
    head = json.loads(result.output)
    assert head["size"] == 40 and head["id"] == 3 and len(head["key_fingerprint"]) == 64
    result = vigie("audit", "prove", "7", "--json", "--out", str(tmp_path / "p.json"))
    assert result.exit_code == 0, result.output
    proof = json.loads(result.output)
    assert proof["checkpoint"]["id"] == 3 and proof["event"]["seq"] == 7
    assert json.loads((tmp_path / "p.json").read_text()) == proof
    result = vigie("audit", "prove", "7", "--checkpoint", "1")
    assert result.exit_code == 0 and "leaf 6 of checkpoint #1" in result.output
    result = vigie("audit", "prove", "--consistency", "1", "3")
    assert result.exit_code == 0 and "checkpoint #1 (15 events) is a prefix" in result.output
    result = vigie("audit", "prove", "99")
    assert result.exit_code == 1 and "error: no event 99" in result.output


def test_key_prints_the_secrets_key(vigie: Callable[..., Result], settings: Settings) -> None:
    pem = (settings.resolved_secrets_dir / "audit-signing.pem").read_bytes()
    private = serialization.load_pem_private_key(pem, None)
    assert isinstance(private, Ed25519PrivateKey)
    real = fingerprint(private.public_key())
    result = vigie("audit", "key", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["fingerprint"] == real
    published = serialization.load_pem_public_key(data["public_key_pem"].encode())
    assert isinstance(published, Ed25519PublicKey) and fingerprint(published) == real
    assert "authority-pack" in data["where_to_publish"]
    result = vigie("audit", "key")
    assert result.exit_code == 0, result.output
    assert real in result.output and "-----BEGIN PUBLIC KEY-----" in result.output


def test_export(vigie: Callable[..., Result], secrets: InstanceSecrets, tmp_path: Path) -> None:
    result = vigie("audit", "export", "--out", str(tmp_path / "x"))
    assert result.exit_code == 0, result.output
    assert "exported 40 events and 3 checkpoints" in result.output
    real = fingerprint(secrets.verify_key)
    assert f"signed by key {real}" in result.output
    command = next(line for line in result.output.splitlines() if "verify_trail.py" in line)
    argv = shlex.split(command.split(": ", 1)[1])
    assert argv[0] == "python" and argv[-2:] == ["--fingerprint", real]
    ran = subprocess.run(
        [sys.executable, "-I", *argv[1:]], capture_output=True, text=True, check=False
    )
    assert ran.returncode == 0 and f"signed by key {real}" in ran.stdout, ran.stdout + ran.stderr
    assert (tmp_path / "x" / "verify_trail.py").exists()
    again = vigie("audit", "export", "--out", str(tmp_path / "x"))
    assert again.exit_code == 1 and "not an empty directory" in " ".join(again.output.split())


def run(settings: Settings, engine: Engine, *args: str, **overrides: object) -> Result:
    """``vigie ARGS`` with settings ``overrides`` (no ``filled`` trail)."""
    changed = settings.model_copy(update=overrides)
    return runner.invoke(app, list(args), obj=Instance(settings=changed, _engine=engine))


def test_verify_reports_the_unanchored_tail(vigie: Callable[..., Result]) -> None:
    result = vigie("audit", "verify", "--strict")
    assert result.exit_code == 0, result.output
    assert "OK 40 events and 2 checkpoints verify" in result.output
    assert "9 events after checkpoint #2" in " ".join(result.output.split())
    data = json.loads(vigie("audit", "verify", "--json").output)
    assert data["anchored"] is True and data["unanchored"]["events"] == 9


def test_strict_fails_when_the_tail_exceeds_the_bound(
    settings: Settings, engine: Engine, filled: list[int]
) -> None:
    loose = run(settings, engine, "audit", "verify", audit_max_unanchored_events=8)
    assert loose.exit_code == 0, loose.output
    assert "UNANCHORED" in loose.output and "OK" not in loose.output
    strict = run(settings, engine, "audit", "verify", "--strict", audit_max_unanchored_events=8)
    assert strict.exit_code == 1
    text_ = " ".join(strict.output.split())
    assert "error: UNANCHORED: 9 events after checkpoint #2" in text_ and " old" in text_


def test_strict_fails_on_an_old_tail(
    settings: Settings, engine: Engine, sessions: sessionmaker[Session], secrets: InstanceSecrets
) -> None:
    with sessions.begin() as s:
        take(s, signing_key=secrets.signing_key, actor="operator:cli")
        append(s, action=Action.KEY_ISSUE, actor="operator:dpo",
               at=datetime.now(UTC) - timedelta(hours=2))  # fmt: skip
    result = run(settings, engine, "audit", "verify", "--strict")
    assert result.exit_code == 1
    text_ = " ".join(result.output.split())
    assert "UNANCHORED: 1 event after checkpoint #1" in text_ and "2 h 0 min" in text_


def test_a_trail_without_checkpoint_is_never_ok(
    settings: Settings, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    with sessions.begin() as s:
        append(s, action=Action.KEY_ISSUE, actor="operator:dpo")
    result = run(settings, engine, "audit", "verify")
    assert result.exit_code == 0 and "UNANCHORED" in result.output
    assert "OK" not in result.output and "no signed checkpoint" in result.output
    assert run(settings, engine, "audit", "verify", "--strict").exit_code == 1


def test_cli_commands_anchor_what_they_append(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(PROCESSOR)
    applied = run(settings, engine, "processors", "apply", str(path))
    assert applied.exit_code == 0, applied.output
    result = run(settings, engine, "audit", "verify", "--strict", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["checkpoints"] == 1 and data["unanchored"]["events"] == 0
    again = run(settings, engine, "audit", "verify", "--json")  # reading appends nothing
    assert json.loads(again.output)["checkpoints"] == 1


def test_verify_against_a_held_checkpoint(
    vigie: Callable[..., Result], engine: Engine, tmp_path: Path
) -> None:
    held = tmp_path / "held.json"
    taken = vigie("audit", "checkpoint", "--json")
    held.write_text(taken.output)
    exported = vigie("audit", "export", "--out", str(tmp_path / "x"))
    assert exported.exit_code == 0, exported.output
    line = (tmp_path / "x" / "checkpoints.jsonl").read_text().splitlines()[0]
    (tmp_path / "line.json").write_text(line)
    ok = vigie("audit", "verify", "--checkpoint", str(held),
               "--checkpoint", str(tmp_path / "line.json"))  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert "held checkpoint #3 (40 events) matches" in ok.output
    with engine.begin() as conn:  # remove everything after checkpoint #1's event
        conn.execute(text("DELETE FROM audit_events WHERE seq > 16"))
        conn.execute(text("DELETE FROM audit_checkpoints WHERE id > 1"))
        conn.execute(
            text(
                "UPDATE audit_head SET size = 16, head_hash = "
                "(SELECT entry_hash FROM audit_events WHERE seq = 16) WHERE id = 1"
            )
        )
    lazy = vigie("audit", "verify")  # the served index still names the removed disclosures
    assert lazy.exit_code == 1
    assert "index row with no event behind it" in " ".join(lazy.output.split())
    with engine.begin() as conn:  # a thorough attacker cleans the index as well
        conn.execute(text("DELETE FROM audit_disclosures WHERE seq > 16"))
        conn.execute(text("DELETE FROM audit_receipts WHERE first_seq > 16"))
        for column, source in (("last_seq", "seq"), ("last_us", "at_us")):
            conn.execute(
                text(
                    f"UPDATE audit_receipts SET {column} = (SELECT max(d.{source}) FROM "
                    "audit_disclosures d WHERE d.subject_id = audit_receipts.subject_id "
                    "AND d.processor_id = audit_receipts.processor_id)"
                )
            )
        conn.execute(
            text(
                "DELETE FROM audit_processor_fields WHERE processor_id NOT IN "
                "(SELECT processor_id FROM audit_disclosures)"
            )
        )
    alone = vigie("audit", "verify")  # then the store alone cannot tell
    assert alone.exit_code == 0, alone.output
    result = vigie("audit", "verify", "--checkpoint", str(held))
    assert result.exit_code == 1
    assert "held checkpoint #3: it signs 40 events but the trail holds only 16" in " ".join(
        result.output.split()
    )


def test_a_command_whose_events_cannot_be_anchored_says_so(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(PROCESSOR)
    result = run(
        settings, engine, "processors", "apply", str(path), secrets_dir=tmp_path / "nowhere"
    )
    assert result.exit_code == 1
    assert "the audit events of this command are not anchored" in " ".join(result.output.split())
    data = json.loads(run(settings, engine, "audit", "verify", "--json").output)
    assert data["checkpoints"] == 0 and data["anchored"] is False


def test_seal_then_verify_reports_the_sealed_tables(
    vigie: Callable[..., Result], sessions: sessionmaker[Session], engine: Engine
) -> None:
    """Rows written before seals fail verify until `vigie audit seal` binds them."""
    from sqlalchemy import insert

    from tests.people import person
    from vigie.registry.models import Subject

    at = datetime(2026, 1, 5, tzinfo=UTC)
    with sessions.begin() as s:
        s.execute(insert(Subject), [person(i, ref=f"R-{i}", phone=f"+336123400{i:02d}",
                                           valid_from=at) for i in (1, 2)])  # fmt: skip
    result = vigie("audit", "verify")
    assert result.exit_code == 1
    assert "registry: bucket 0 (person ids 0..1023) holds rows that no seal covers" in " ".join(
        result.output.split()
    )
    result = vigie("audit", "seal")
    assert result.exit_code == 0, result.output
    assert "registry: 1 buckets sealed" in result.output
    assert "nothing to seal" in vigie("audit", "seal").output
    result = vigie("audit", "verify")
    assert result.exit_code == 0, result.output
    assert "registry: 2 rows in 1 buckets, each as last sealed" in result.output
    sealed = json.loads(vigie("audit", "verify", "--json").output)["sealed"]
    assert sealed["registry"] == {"rows": 2, "buckets": 1}
    assert sealed["incident_exposures"] == {"rows": 0, "buckets": 0}
