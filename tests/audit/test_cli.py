"""``vigie audit verify|checkpoint|prove|export|key`` through Typer's runner."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from vigie.audit.checkpoints import fingerprint
from vigie.cli.app import app
from vigie.cli.context import Instance
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings

runner = CliRunner()


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
