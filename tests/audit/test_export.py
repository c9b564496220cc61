"""An exported trail verifies with the standalone script alone, and fails it when tampered."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from vigie.audit import offline
from vigie.audit.checkpoints import fingerprint
from vigie.audit.export import FILES, export_trail
from vigie.audit.proofs import consistency, inclusion
from vigie.errors import IntegrityError, InvalidInput
from vigie.secrets import InstanceSecrets


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", *map(str, args)], capture_output=True, text=True, check=False
    )


def test_export_verifies_with_the_script_alone(
    exported: Path, secrets: InstanceSecrets, tmp_path: Path
) -> None:
    assert sorted(p.name for p in exported.iterdir()) == sorted(FILES)
    # Run from a copy outside the source tree, isolated (-I): no Vigie on the path.
    alone = tmp_path / "elsewhere"
    shutil.copytree(exported, alone)
    real = fingerprint(secrets.verify_key)
    result = run(alone / "verify_trail.py", alone, "--fingerprint", real)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("OK 40 events, 3 checkpoints")
    lines = (alone / "events.jsonl").read_text().splitlines()
    event = json.loads(lines[0])
    assert event["subjects"] == [100, 200, 5000] and event["fields"] == ["email", "name", "phone"]
    (alone / "events.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    result = run(alone / "verify_trail.py", alone, "--fingerprint", real)
    assert result.returncode == 1
    assert "checkpoint #3: signs 40 events but the export holds 39" in result.stdout


def test_export_refuses_a_broken_trail_or_a_used_directory(
    engine: Engine,
    sessions: sessionmaker[Session],
    secrets: InstanceSecrets,
    filled: list[int],
    tmp_path: Path,
) -> None:
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("x")
    with pytest.raises(InvalidInput):
        export_trail(engine, sessions, out=tmp_path / "used", secrets=secrets, actor="operator:x")
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET outcome = 'denied' WHERE seq = 4"))
    with pytest.raises(IntegrityError, match="event 4"):
        export_trail(engine, sessions, out=tmp_path / "new", secrets=secrets, actor="operator:x")
    assert not (tmp_path / "new").exists()


PRINTABLE = st.characters(min_codepoint=32, max_codepoint=126)
DIGITS = st.characters(min_codepoint=48, max_codepoint=57)
EDITS = st.one_of(
    st.tuples(st.just("char"), st.integers(0, 39), st.integers(0, 10_000), PRINTABLE),
    st.tuples(st.just("drop"), st.integers(0, 39), st.just(0), st.just("")),
    st.tuples(st.just("swap"), st.integers(0, 39), st.integers(0, 39), st.just("")),
    st.tuples(st.just("truncate"), st.integers(0, 39), st.just(0), st.just("")),
    st.tuples(st.just("checkpoint"), st.integers(0, 2), st.integers(0, 10_000), DIGITS),
)  # fmt: skip


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(edit=EDITS)
def test_any_tampering_of_the_export_fails(
    exported: Path, secrets: InstanceSecrets, edit: tuple[str, int, int, str]
) -> None:
    kind, a, b, ch = edit
    name = "checkpoints.jsonl" if kind == "checkpoint" else "events.jsonl"
    path = exported / name
    original = path.read_text(encoding="utf-8")
    lines = original.splitlines()
    if kind in ("char", "checkpoint"):
        line = lines[a]
        i = b % len(line)
        if line[i] == ch:
            return
        lines[a] = line[:i] + ch + line[i + 1 :]
        if _same_json(line, lines[a]):
            return  # e.g. a space added between JSON tokens: no value changed
        if kind == "checkpoint" and a == len(lines) - 1 and _only_id_changed(line, lines[a], lines):
            # The id is not signed: an earlier checkpoint's is bound by its announcement,
            # the export's own (announced after the export) is a label; ids must increase.
            return
    elif kind == "drop":
        del lines[a]
    elif kind == "swap":
        if a == b:
            return
        lines[a], lines[b] = lines[b], lines[a]
    else:
        lines = lines[:a]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        with pytest.raises(offline.Failure):
            offline.verify_export(exported, key=secrets.verify_key)
    finally:
        path.write_text(original, encoding="utf-8")


def _only_id_changed(old: str, new: str, lines: list[str]) -> bool:
    try:
        before, after = json.loads(old), json.loads(new)
    except ValueError:
        return False
    if {k: v for k, v in before.items() if k != "id"} != {
        k: v for k, v in after.items() if k != "id"
    }:
        return False
    ids = [json.loads(line)["id"] for line in lines]
    return all(x < y for x, y in itertools.pairwise(ids))


def _same_json(a: str, b: str) -> bool:
    try:
        return bool(json.loads(a) == json.loads(b))
    except ValueError:
        return False


def test_proofs_verify_with_the_script(
    exported: Path, sessions: sessionmaker[Session], secrets: InstanceSecrets, filled: list[int]
) -> None:
    with sessions() as s:
        proof = inclusion(s, seq=12).to_json()
        cons = consistency(s, old_id=filled[0], new_id=filled[1]).to_json()
    key = exported / "audit-signing.pub.pem"
    for data in (proof, cons):
        path = exported.parent / f"{data['type']}.json"
        path.write_text(json.dumps(data))
        result = run(exported / "verify_trail.py", "--proof", path, "--key", key)
        assert result.returncode == 0, result.stdout + result.stderr
    proof["event"]["outcome"] = "denied"
    bad = exported.parent / "bad.json"
    bad.write_text(json.dumps(proof))
    result = run(exported / "verify_trail.py", "--proof", bad, "--key", key)
    assert result.returncode == 1 and "event 12: contents do not match" in result.stdout
    cons["path"] = cons["path"][1:]
    bad.write_text(json.dumps(cons))
    assert run(exported / "verify_trail.py", "--proof", bad, "--key", key).returncode == 1
