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
from vigie.audit.keyring import KeyHistory
from vigie.audit.proofs import inclusion
from vigie.secrets import InstanceSecrets


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


def rewrite(
    directory: Path,
    key: Ed25519PrivateKey,
    *,
    events: Callable[[list[dict[str, Any]]], None] | None = None,
    heads: Callable[[list[dict[str, Any]]], None] | None = None,
) -> None:
    """Rewrite the export as a thorough forger holding ``key`` would: apply the edits, then
    rechain every event, re-sign every checkpoint and rewrite each checkpoint announcement
    (``audit:checkpoint`` event) to repeat its re-signed head."""
    rows = _lines(directory / "events.jsonl")
    signed = _lines(directory / "checkpoints.jsonl")
    if events is not None:
        events(rows)
    if heads is not None:
        heads(signed)
    by_id = {h["id"]: h for h in signed}
    leaves: list[bytes] = []

    def sign(head: dict[str, Any]) -> None:
        root = merkle.root(leaves[: head["size"]])
        head["root"] = root.hex()
        head["signature"] = key.sign(message(head["size"], root, head["at_us"])).hex()

    prev = bytes(32)
    for event in rows:
        if event["action"] == "audit:checkpoint":
            detail = json.loads(event["detail"])
            head = by_id.get(detail["checkpoint"])
            if "root" in detail and head is not None and head["size"] <= len(leaves):
                sign(head)
                detail.update(root=head["root"], signature=head["signature"])
                event["detail"] = json.dumps(detail, sort_keys=True, separators=(",", ":"))
        event["prev_hash"] = prev.hex()
        prev = offline.event_hash(event)
        event["hash"] = prev.hex()
        leaves.append(prev)
    for head in signed:
        sign(head)
    _write(directory / "events.jsonl", rows)
    _write(directory / "checkpoints.jsonl", signed)


def resign(directory: Path) -> str:
    """Rewrite the export as a forger would: alter an event, rechain, re-sign with a new key.

    Returns the forger's key fingerprint.
    """
    forger = Ed25519PrivateKey.generate()
    rewrite(directory, forger, events=lambda rows: rows[3].update(outcome="denied"))
    (directory / "audit-signing.pub.pem").write_bytes(
        forger.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    # ...and a key history of its own key alone, consistent with the rest.
    history = KeyHistory.single(forger.public_key()).to_json()
    (directory / offline.KEY_HISTORY).write_bytes(history)
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


# The checkpoint sequence. The ``filled`` trail exported: events 1..15, checkpoint #1
# (15 events) announced by event 16, events 17..30, checkpoint #2 (30 events) announced by
# event 31, events 32..40, then #3, signed by the export over its 40 events, whose
# announcement (event 41) is written after the export.


def check(exported: Path, secrets: InstanceSecrets) -> subprocess.CompletedProcess[str]:
    real = fingerprint(secrets.verify_key)
    return run(exported / "verify_trail.py", exported, "--fingerprint", real)


def failure(exported: Path, secrets: InstanceSecrets) -> str:
    result = check(exported, secrets)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith("FAILED: "), result.stdout
    return result.stdout.removeprefix("FAILED: ").strip()


def test_a_healthy_export_reports_its_checkpoint_sequence_and_tail(
    exported: Path, secrets: InstanceSecrets
) -> None:
    result = check(exported, secrets)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(
        "OK 40 events, 3 checkpoints: #3 is the export's own (announced by event 41, after "
        "the export), the 2 earlier announced in events.jsonl one for one; "
        "unanchored tail: none, checkpoint #3 covers every event; root "
    ), result.stdout


@pytest.mark.parametrize(("line", "announced_by"), [(0, 16), (1, 31)])
def test_a_deleted_checkpoint_line_fails(
    exported: Path, secrets: InstanceSecrets, line: int, announced_by: int
) -> None:
    path = exported / HEADS
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    deleted = json.loads(lines.pop(line))["id"]
    path.write_text("".join(lines), encoding="utf-8")
    assert failure(exported, secrets) == (
        f"checkpoint #{deleted}: announced by event {announced_by} but missing from "
        "checkpoints.jsonl (its line was deleted)"
    )


def _an_earlier_head(heads: list[dict[str, Any]], secrets: InstanceSecrets) -> None:
    """#2's line holds #1's genuine signed head, relabelled #2 (ids are not signed)."""
    heads[1] = dict(heads[0], id=heads[1]["id"])


def _resigned_later(heads: list[dict[str, Any]], secrets: InstanceSecrets) -> None:
    """#2's line holds a genuine head of the same 30 events signed a microsecond later, as
    the store signs again once the events after the 30th are cut."""
    head = heads[1]
    head["at_us"] += 1
    head["at"] = offline._iso(head["at_us"])
    root = bytes.fromhex(head["root"])
    head["signature"] = secrets.signing_key.sign(message(30, root, head["at_us"])).hex()


@pytest.mark.parametrize("replace", [_an_earlier_head, _resigned_later])
def test_a_checkpoint_line_replaced_by_another_genuine_one_fails(
    exported: Path,
    secrets: InstanceSecrets,
    replace: Callable[[list[dict[str, Any]], InstanceSecrets], None],
) -> None:
    heads = _lines(exported / HEADS)
    replaced = heads[1]["id"]
    replace(heads, secrets)
    _write(exported / HEADS, heads)
    assert failure(exported, secrets) == (
        f"checkpoint #{replaced}: differs from the head event 31 recorded when it was "
        "signed (its line was replaced)"
    )


def test_a_genuine_checkpoint_line_added_fails(exported: Path, secrets: InstanceSecrets) -> None:
    """A head of the first 35 events, signed by the real key, slipped in before the
    export's own (relabelled after it, since ids are not signed): the trail never
    announced it."""
    heads = _lines(exported / HEADS)
    leaves = [bytes.fromhex(e["hash"]) for e in _lines(exported / EVENTS)]
    root = merkle.root(leaves[:35])
    at_us = heads[1]["at_us"] + 1
    added = {"id": heads[2]["id"], "size": 35, "root": root.hex(), "at_us": at_us,
             "at": offline._iso(at_us),
             "signature": secrets.signing_key.sign(message(35, root, at_us)).hex()}  # fmt: skip
    heads[2]["id"] += 1
    _write(exported / HEADS, [*heads[:2], added, heads[2]])
    assert failure(exported, secrets) == (
        f"checkpoint #{added['id']}: not announced in events.jsonl (event 36 should record "
        "it: the event was removed, or the line added)"
    )


def _announcements(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in rows if e["action"] == "audit:checkpoint"]


def test_older_announcements_compare_id_and_size(exported: Path, secrets: InstanceSecrets) -> None:
    """Trails written before announcements repeated the signed head carry only its id and
    size: such an export verifies, and a deleted line still fails."""

    def legacy(rows: list[dict[str, Any]]) -> None:
        for event in _announcements(rows):
            detail = json.loads(event["detail"])
            event["detail"] = json.dumps(
                {"checkpoint": detail["checkpoint"], "size": detail["size"]},
                separators=(",", ":"),
            )

    rewrite(exported, secrets.signing_key, events=legacy)
    result = check(exported, secrets)
    assert result.returncode == 0, result.stdout + result.stderr
    heads = _lines(exported / HEADS)
    _write(exported / HEADS, heads[1:])
    assert failure(exported, secrets).startswith(f"checkpoint #{heads[0]['id']}: announced by")


@pytest.mark.parametrize(
    ("detail", "expected"),
    [
        (lambda d: d.update(size=14), "event 16: announces checkpoint #{id} of 14 events out of "
         "place (it must be event 15)"),
        (lambda d: d.pop("size"), "event 16 (audit:checkpoint): missing field 'size'"),
        (lambda d: d.update(size="15"), "event 16 (audit:checkpoint): field 'size' must be an "
         "integer"),
        (lambda d: d.update(note=1), "event 16 (audit:checkpoint): unknown field 'note' (the "
         "format does not define it)"),
    ],
)  # fmt: skip
def test_a_malformed_or_misplaced_announcement_fails(
    exported: Path,
    secrets: InstanceSecrets,
    detail: Callable[[dict[str, Any]], None],
    expected: str,
) -> None:
    """Re-signed with the real key: only the announcement is wrong."""
    first = _lines(exported / HEADS)[0]["id"]

    def edit(rows: list[dict[str, Any]]) -> None:
        event = rows[15]
        data = json.loads(event["detail"])
        detail(data)
        event["detail"] = json.dumps(data, sort_keys=True, separators=(",", ":"))

    rewrite(exported, secrets.signing_key, events=edit)
    assert failure(exported, secrets) == expected.format(id=first)


def test_an_announcement_given_twice_fails(exported: Path, secrets: InstanceSecrets) -> None:
    """Event 31 announces checkpoint #1 again (re-signed with the real key)."""
    first = _lines(exported / HEADS)[0]["id"]

    def edit(rows: list[dict[str, Any]]) -> None:
        rows[30]["detail"] = rows[15]["detail"]

    rewrite(exported, secrets.signing_key, events=edit)
    assert failure(exported, secrets) == (f"event 31: announces checkpoint #{first} a second time")


def test_checkpoint_times_never_go_back(exported: Path, secrets: InstanceSecrets) -> None:
    def edit(heads: list[dict[str, Any]]) -> None:
        heads[1]["at_us"] = heads[0]["at_us"] - 1
        heads[1]["at"] = offline._iso(heads[1]["at_us"])

    rewrite(exported, secrets.signing_key, heads=edit)
    heads = _lines(exported / HEADS)
    assert failure(exported, secrets) == (
        f"checkpoint #{heads[1]['id']}: signed before checkpoint #{heads[0]['id']} "
        "(times never go back)"
    )


def test_events_after_the_last_checkpoint_fail(exported: Path, secrets: InstanceSecrets) -> None:
    """The export's last checkpoint covers every event: an extra, chained event is refused."""
    heads = _lines(exported / HEADS)

    def edit(rows: list[dict[str, Any]]) -> None:
        rows.append(dict(rows[-1], seq=41))

    rewrite(exported, secrets.signing_key, events=edit)
    assert failure(exported, secrets) == (
        f"unanchored tail: event 41 after checkpoint #{heads[-1]['id']} (40 events) is signed "
        "by no checkpoint, and an export is signed end to end (the event was added)"
    )
