#!/usr/bin/env python3
# ruff: noqa: UP017  (datetime.UTC is Python 3.11+; this script runs on 3.9)
"""Standalone verifier of an exported Vigie audit trail (needs Python 3.9+ and `cryptography`).

This file is copied as ``verify_trail.py`` into every directory written by
``vigie audit export``; it imports nothing from Vigie and reads no database.

    python verify_trail.py DIR                   # the whole export
    python verify_trail.py --proof proof.json --key audit-signing.pub.pem

An export directory holds ``events.jsonl`` (one event per line), ``checkpoints.jsonl``
(signed tree heads), ``audit-signing.pub.pem`` (the Ed25519 public key; compare its
fingerprint with the one the controller published) and this script. The check:

1. every checkpoint's Ed25519 signature over
   ``"vigie-audit-checkpoint/v1\\n<size>\\n<root hex>\\n<time us>\\n"``;
2. every event, in order: numbers 1, 2, 3...; ``prev_hash`` equal to the previous
   event's hash (zeros for the first); ``hash`` equal to
   ``SHA-256(0x00 || prev_hash || body)`` where ``body`` is the compact JSON array
   ``[1, seq, at_us, actor, processor_id, key_id, origin, action, purpose, fields,
   outcome, detail]`` (``fields``: names joined by ","; ``detail``: the JSON text as
   stored), a newline byte, then the people's ids packed as unsigned LEB128 varints of
   the gaps between the sorted ids;
3. the RFC 6962 Merkle root of the first ``size`` event hashes equals each
   checkpoint's root, and the last checkpoint covers every exported event.

It prints ``OK ...`` and exits 0, or prints the first problem (which event or checkpoint,
and why) and exits 1.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

GENESIS = bytes(32)


class Failure(Exception):
    """The export (or proof) does not verify."""


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _fold(frontier: list[bytes]) -> bytes:
    if not frontier:
        return hashlib.sha256(b"").digest()
    h = frontier[-1]
    for left in reversed(frontier[:-1]):
        h = _node(left, h)
    return h


def _subjects(ids: list[int]) -> bytes:
    out = bytearray()
    prev = 0
    for value in ids:
        gap = value - prev
        if gap < 0 or (out and gap == 0):
            raise ValueError("subjects must be sorted and distinct")
        prev = value
        while gap >= 0x80:
            out.append((gap & 0x7F) | 0x80)
            gap >>= 7
        out.append(gap)
    return bytes(out)


def event_hash(event: dict[str, Any]) -> bytes:
    """Recompute an exported event's hash from its fields."""
    body = [
        1,
        event["seq"],
        event["at_us"],
        event["actor"],
        event["processor_id"],
        event["key_id"],
        event["origin"],
        event["action"],
        event["purpose"],
        ",".join(event["fields"]),
        event["outcome"],
        event["detail"],
    ]
    encoded = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    encoded += b"\n" + _subjects(event["subjects"])
    return hashlib.sha256(b"\x00" + bytes.fromhex(event["prev_hash"]) + encoded).digest()


def _iso(at_us: int) -> str:
    at = datetime.fromtimestamp(at_us // 1_000_000, timezone.utc)
    return at.replace(microsecond=at_us % 1_000_000).isoformat()


def check_signature(head: dict[str, Any], key: Ed25519PublicKey) -> None:
    """Raise unless ``key`` signed this checkpoint."""
    text = f"vigie-audit-checkpoint/v1\n{head['size']}\n{head['root']}\n{head['at_us']}\n"
    try:
        key.verify(bytes.fromhex(head["signature"]), text.encode())
    except (InvalidSignature, ValueError):
        raise Failure(f"checkpoint #{head['id']}: signature does not verify") from None


def load_key(path: Path) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise Failure(f"{path} is not an Ed25519 public key")
    return key


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def verify_export(directory: Path) -> str:
    """Verify an export directory; return a summary or raise :class:`Failure`."""
    try:
        return _verify_export(directory)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise Failure(f"malformed export: {type(exc).__name__}: {exc}") from None


def _verify_export(directory: Path) -> str:
    key = load_key(directory / "audit-signing.pub.pem")
    heads = _jsonl(directory / "checkpoints.jsonl")
    if not heads:
        raise Failure("no checkpoint: nothing signs this export")
    by_size: dict[int, list[dict[str, Any]]] = {}
    prev_head: dict[str, Any] | None = None
    for head in heads:
        check_signature(head, key)
        if head.get("at") != _iso(head["at_us"]):
            raise Failure(f"checkpoint #{head['id']}: its readable time does not match at_us")
        if prev_head is not None and (
            head["id"] <= prev_head["id"]
            or head["size"] < prev_head["size"]
            or head["at_us"] < prev_head["at_us"]
        ):
            raise Failure(f"checkpoint #{head['id']}: out of order after #{prev_head['id']}")
        prev_head = head
        by_size.setdefault(head["size"], []).append(head)
    last_size = max(by_size)
    frontier: list[bytes] = []
    prev = GENESIS
    n = 0
    with (directory / "events.jsonl").open(encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            try:
                event = json.loads(line)
                seq = event["seq"]
                if seq != n + 1:
                    raise Failure(
                        f"event {n + 1} missing or out of place (line {line_no} is {seq})"
                    )
                if bytes.fromhex(event["prev_hash"]) != prev:
                    raise Failure(f"event {seq}: prev_hash does not link to event {seq - 1}")
                h = event_hash(event)
                if h.hex() != event["hash"]:
                    raise Failure(f"event {seq}: contents do not match its hash (altered)")
                if event.get("at") != _iso(event["at_us"]):
                    raise Failure(f"event {seq}: its readable time does not match at_us")
            except (KeyError, TypeError, ValueError) as exc:
                raise Failure(f"line {line_no} of events.jsonl is malformed: {exc}") from None
            n = seq
            i, x = n - 1, h
            while i & 1:
                x = _node(frontier.pop(), x)
                i >>= 1
            frontier.append(x)
            prev = h
            for head in by_size.pop(n, []):
                if bytes.fromhex(head["root"]) != _fold(frontier):
                    raise Failure(
                        f"checkpoint #{head['id']}: root does not match the first {n} events"
                    )
    for heads_left in by_size.values():
        head = heads_left[0]
        raise Failure(
            f"checkpoint #{head['id']}: signs {head['size']} events but the export holds {n} "
            "(events were removed)"
        )
    if n != last_size:
        raise Failure(f"events {last_size + 1}..{n} are not covered by any checkpoint (added?)")
    return f"OK {n} events, {len(heads)} checkpoints; root {_fold(frontier).hex()}"


def verify_inclusion(index: int, size: int, leaf: bytes, path: list[bytes], root: bytes) -> None:
    """RFC 9162 section 2.1.3.2."""
    if not 0 <= index < size:
        raise Failure("leaf index outside the tree")
    fn, sn, h = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise Failure("inclusion proof is too long")
        if fn & 1 or fn == sn:
            h = _node(p, h)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            h = _node(h, p)
        fn >>= 1
        sn >>= 1
    if sn != 0 or h != root:
        raise Failure("inclusion proof does not lead to the signed root")


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, path: list[bytes]
) -> None:
    """RFC 9162 section 2.1.4.2."""
    if old == new:
        if path or old_root != new_root:
            raise Failure("equal sizes must have equal roots and an empty proof")
        return
    if old == 0 or old > new or not path:
        raise Failure("no valid consistency proof between these sizes")
    items = ([old_root] if old & (old - 1) == 0 else []) + path
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = items[0]
    for c in items[1:]:
        if sn == 0:
            raise Failure("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr, sr = _node(c, fr), _node(c, sr)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0 or fr != old_root or sr != new_root:
        raise Failure("consistency proof does not lead to the signed roots")


def verify_proof(proof: dict[str, Any], key: Ed25519PublicKey) -> str:
    """Verify a proof written by ``vigie audit prove --json``; return a summary."""
    try:
        return _verify_proof(proof, key)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise Failure(f"malformed proof: {type(exc).__name__}: {exc}") from None


def _verify_proof(proof: dict[str, Any], key: Ed25519PublicKey) -> str:
    path = [bytes.fromhex(p) for p in proof["path"]]
    if proof["type"] == "inclusion":
        head = proof["checkpoint"]
        check_signature(head, key)
        leaf = bytes.fromhex(proof["leaf_hash"])
        event = proof.get("event")
        if event is not None and (event["seq"] != proof["seq"] or event_hash(event) != leaf):
            raise Failure(f"event {proof['seq']}: contents do not match the proven hash")
        verify_inclusion(proof["seq"] - 1, head["size"], leaf, path, bytes.fromhex(head["root"]))
        return f"OK event {proof['seq']} is in checkpoint #{head['id']} ({head['size']} events)"
    old, new = proof["old"], proof["new"]
    check_signature(old, key)
    check_signature(new, key)
    verify_consistency(
        old["size"], new["size"], bytes.fromhex(old["root"]), bytes.fromhex(new["root"]), path
    )
    return f"OK checkpoint #{old['id']} ({old['size']}) is a prefix of #{new['id']} ({new['size']})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify an exported Vigie audit trail.")
    parser.add_argument("directory", nargs="?", type=Path, help="an export directory")
    parser.add_argument("--proof", type=Path, help="a proof file from `vigie audit prove --json`")
    parser.add_argument("--key", type=Path, help="the public key PEM (with --proof)")
    args = parser.parse_args(argv)
    try:
        if args.proof is not None:
            if args.key is None:
                parser.error("--proof needs --key")
            proof = json.loads(args.proof.read_text(encoding="utf-8"))
            print(verify_proof(proof, load_key(args.key)))
        elif args.directory is not None:
            print(verify_export(args.directory))
        else:
            parser.error("give an export directory or --proof")
    except Failure as exc:
        print(f"FAILED: {exc}")
        return 1
    except (OSError, KeyError, ValueError, TypeError) as exc:
        print(f"FAILED: unreadable input: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
