"""The standalone verifier takes the expected key from outside and reads a strict format.

Every check runs the copied ``verify_trail.py`` as a subprocess, isolated from Vigie, as
the authority or an auditor would.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from vigie.audit import merkle, offline
from vigie.audit.checkpoints import fingerprint, message
from vigie.audit.export import export_trail
from vigie.audit.proofs import inclusion
from vigie.secrets import InstanceSecrets


@pytest.fixture
def exported(
    engine: Engine,
    sessions: sessionmaker[Session],
    secrets: InstanceSecrets,
    filled: list[int],
    tmp_path: Path,
) -> Path:
    out = tmp_path / "export"
    export_trail(engine, sessions, out=out, secrets=secrets, actor="operator:dpo")
    return out


@pytest.fixture
def real_pem(secrets: InstanceSecrets, tmp_path: Path) -> Path:
    """The real public key, as the recipient got it independently of any export."""
    path = tmp_path / "real.pub.pem"
    path.write_bytes(
        secrets.verify_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", *map(str, args)], capture_output=True, text=True, check=False
    )


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _write(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")


def resign(directory: Path) -> str:
    """Rewrite the export as a forger would: alter an event, rechain, re-sign with a new key.

    Returns the forger's key fingerprint.
    """
    events = _lines(directory / "events.jsonl")
    events[3]["outcome"] = "denied"  # the forger's edit
    prev = bytes(32)
    for event in events:
        event["prev_hash"] = prev.hex()
        prev = offline.event_hash(event)
        event["hash"] = prev.hex()
    leaves = [bytes.fromhex(e["hash"]) for e in events]
    forger = Ed25519PrivateKey.generate()
    heads = _lines(directory / "checkpoints.jsonl")
    for head in heads:
        root = merkle.root(leaves[: head["size"]])
        head["root"] = root.hex()
        head["signature"] = forger.sign(message(head["size"], root, head["at_us"])).hex()
    _write(directory / "events.jsonl", events)
    _write(directory / "checkpoints.jsonl", heads)
    (directory / "audit-signing.pub.pem").write_bytes(
        forger.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return fingerprint(forger.public_key())


def test_a_resigned_export_fails_given_the_real_key(
    exported: Path, secrets: InstanceSecrets, real_pem: Path
) -> None:
    real = fingerprint(secrets.verify_key)
    script = exported / "verify_trail.py"
    ok = run(script, exported, "--fingerprint", real)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("OK 40 events, 3 checkpoints")
    assert f"signed by key {real}" in ok.stdout
    ok = run(script, exported, "--key", real_pem)
    assert ok.returncode == 0 and f"signed by key {real}" in ok.stdout, ok.stdout + ok.stderr

    forged = resign(exported)
    # The forgery is internally consistent: checked against its own key, it passes.
    assert offline.verify_export(exported, key=offline.load_key(exported / "audit-signing.pub.pem"))
    for trust in (("--key", real_pem), ("--fingerprint", real), ("--fingerprint", real.upper())):
        result = run(script, exported, *trust)
        assert result.returncode == 1, (trust, result.stdout + result.stderr)
        assert result.stdout.startswith("FAILED:")
        assert real in result.stdout and forged in result.stdout, result.stdout
    # Without an expected key the script refuses instead of trusting the bundled one.
    result = run(script, exported)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "OK" not in result.stdout
    assert "--fingerprint" in result.stderr and "vigie audit key" in result.stderr


def test_the_expected_key_is_checked_before_anything_else(
    exported: Path, secrets: InstanceSecrets, real_pem: Path, tmp_path: Path
) -> None:
    script = exported / "verify_trail.py"
    real = fingerprint(secrets.verify_key)
    result = run(script, exported, "--fingerprint", "abc123")
    assert result.returncode == 2 and "64 hex digits" in result.stderr
    other = "0" * 64
    result = run(script, exported, "--fingerprint", other)
    assert result.returncode == 1 and other in result.stdout and real in result.stdout
    # --key and --fingerprint together must name the same key.
    result = run(script, exported, "--key", real_pem, "--fingerprint", other)
    assert result.returncode == 1 and other in result.stdout and real in result.stdout
    result = run(script, exported, "--key", real_pem, "--fingerprint", real)
    assert result.returncode == 0, result.stdout + result.stderr
    not_a_key = tmp_path / "junk.pem"
    not_a_key.write_text("not a key\n")
    result = run(script, exported, "--key", not_a_key)
    assert result.returncode == 1 and "junk.pem" in result.stdout


def test_offline_fingerprint_is_vigies(secrets: InstanceSecrets) -> None:
    assert offline.fingerprint(secrets.verify_key) == fingerprint(secrets.verify_key)


def test_proofs_need_and_name_the_expected_key(
    exported: Path, sessions: sessionmaker[Session], secrets: InstanceSecrets, real_pem: Path
) -> None:
    script = exported / "verify_trail.py"
    real = fingerprint(secrets.verify_key)
    with sessions() as s:
        proof = inclusion(s, seq=12).to_json()
    path = exported.parent / "proof.json"
    path.write_text(json.dumps(proof))
    result = run(script, "--proof", path, "--key", real_pem)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"signed by key {real}" in result.stdout
    result = run(script, "--proof", path, "--key", real_pem, "--fingerprint", real)
    assert result.returncode == 0, result.stdout + result.stderr
    result = run(script, "--proof", path, "--key", real_pem, "--fingerprint", "1" * 64)
    assert result.returncode == 1 and "1" * 64 in result.stdout and real in result.stdout
    result = run(script, "--proof", path)
    assert result.returncode == 2 and "--key" in result.stderr
    forger = Ed25519PrivateKey.generate()
    head = proof["checkpoint"]
    root = bytes.fromhex(head["root"])
    head["signature"] = forger.sign(message(head["size"], root, head["at_us"])).hex()
    path.write_text(json.dumps(proof))
    result = run(script, "--proof", path, "--key", real_pem)
    assert result.returncode == 1 and "signature does not verify" in result.stdout


def _edit_line(path: Path, index: int, change: Any) -> None:
    rows = _lines(path)
    change(rows[index])
    _write(path, rows)


EVENTS, HEADS = "events.jsonl", "checkpoints.jsonl"


@pytest.mark.parametrize(
    ("name", "change", "expected"),
    [
        (EVENTS, lambda e: e.update(note="x"), "unknown field 'note'"),
        (EVENTS, lambda e: e.pop("purpose"), "missing field 'purpose'"),
        (EVENTS, lambda e: e.pop("at"), "missing field 'at'"),
        (EVENTS, lambda e: e.update(seq="5"), "field 'seq' must be an integer"),
        (EVENTS, lambda e: e.update(seq=True), "field 'seq' must be an integer"),
        (EVENTS, lambda e: e.update(key_id="1"), "field 'key_id' must be an integer or null"),
        (EVENTS, lambda e: e.update(fields="a,b"), "field 'fields' must be a list of strings"),
        (EVENTS, lambda e: e.update(subjects=[1.5]), "field 'subjects' must be a list of integers"),
        (EVENTS, lambda e: e.update(hash=e["hash"].upper()), "field 'hash' must be 64 lower-case"),
        (HEADS, lambda h: h.update(key="x"), "unknown field 'key'"),
        (HEADS, lambda h: h.pop("at"), "missing field 'at'"),
        (HEADS, lambda h: h.update(signature=h["signature"][:64]), "field 'signature' must be"),
    ],
)  # fmt: skip
def test_lines_with_fields_the_format_does_not_define_fail(
    exported: Path, secrets: InstanceSecrets, name: str, change: Any, expected: str
) -> None:
    index = 4 if name == EVENTS else 0
    _edit_line(exported / name, index, change)
    real = fingerprint(secrets.verify_key)
    result = run(exported / "verify_trail.py", exported, "--fingerprint", real)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"FAILED: line {index + 1} of {name}: {expected}" in result.stdout, result.stdout


def test_duplicate_keys_and_non_objects_fail(exported: Path, secrets: InstanceSecrets) -> None:
    path = exported / "events.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    original = list(lines)
    lines[2] = lines[2][:-1] + ', "seq": 3}'
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    key = offline.load_key(exported / "audit-signing.pub.pem")
    with pytest.raises(offline.Failure, match=r"line 3 of events\.jsonl: duplicate field 'seq'"):
        offline.verify_export(exported, key=key)
    lines = list(original)
    lines[1] = "[1, 2]"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(offline.Failure, match=r"line 2 of events\.jsonl: not a JSON object"):
        offline.verify_export(exported, key=key)


def test_proof_fields_are_strict(
    exported: Path, sessions: sessionmaker[Session], real_pem: Path
) -> None:
    with sessions() as s:
        proof = inclusion(s, seq=12).to_json()
    path = exported.parent / "proof.json"
    for where, change, expected in (
        ("top", lambda p: p.update(comment="trust me"), "proof: unknown field 'comment'"),
        ("top", lambda p: p.pop("leaf_index"), "proof: missing field 'leaf_index'"),
        ("top", lambda p: p.update(leaf_index=3), "leaf_index"),
        ("checkpoint", lambda h: h.update(key="x"), "proof.checkpoint: unknown field 'key'"),
        ("event", lambda e: e.pop("detail"), "proof.event: missing field 'detail'"),
    ):
        data = json.loads(json.dumps(proof))
        change(data if where == "top" else data[where])
        path.write_text(json.dumps(data))
        result = run(exported / "verify_trail.py", "--proof", path, "--key", real_pem)
        assert result.returncode == 1, (expected, result.stdout + result.stderr)
        assert expected in result.stdout, result.stdout


def test_a_checkpoint_of_the_empty_trail_verifies(
    engine: Engine,
    sessions: sessionmaker[Session],
    secrets: InstanceSecrets,
    fill: Callable[[Session, int], list[int]],
    tmp_path: Path,
) -> None:
    real = fingerprint(secrets.verify_key)
    empty = tmp_path / "empty"
    report = export_trail(engine, sessions, out=empty, secrets=secrets, actor="operator:dpo")
    assert report.events == 0 and report.checkpoints == 1
    result = run(empty / "verify_trail.py", empty, "--fingerprint", real)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("OK 0 events, 1 checkpoints")
    with sessions.begin() as s:
        fill(s, 5)
    later = tmp_path / "later"
    report = export_trail(engine, sessions, out=later, secrets=secrets, actor="operator:dpo")
    assert report.checkpoints == 2
    result = run(later / "verify_trail.py", later, "--fingerprint", real)
    assert result.returncode == 0, result.stdout + result.stderr
