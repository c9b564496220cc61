#!/usr/bin/env python3
# ruff: noqa: UP017  (datetime.UTC is Python 3.11+; this script runs on 3.9)
"""Standalone verifier of an exported Vigie audit trail (needs Python 3.9+ and `cryptography`).

This file is copied as ``verify_trail.py`` into every directory written by
``vigie audit export``; it imports nothing from Vigie and reads no database.

    python verify_trail.py DIR --fingerprint HEX        # the whole export
    python verify_trail.py DIR --key vigie-audit.pub.pem
    python verify_trail.py --proof proof.json --key vigie-audit.pub.pem [--fingerprint HEX]
    python verify_trail.py --dossier DIR --fingerprint HEX   # a sanction dossier

The expected signing key must come from OUTSIDE the export: an export rewritten and
re-signed with another key is internally consistent, so the key it carries proves
nothing. Learn the controller's audit-key fingerprint through another channel (its
notification to the authority, its public service, or its staff running
``vigie audit key``) and give it with ``--fingerprint`` (64 hex digits: SHA-256 of the
raw 32-byte Ed25519 public key), or give the public key you obtained with ``--key``.
With ``--fingerprint``, the export's ``audit-signing.pub.pem`` is used only if its
fingerprint is the one given; with ``--key``, the export's key must be that key. Without
either, the script refuses. A proof carries no key: ``--proof`` needs ``--key`` (and
checks it against ``--fingerprint`` if given).

An export directory holds ``events.jsonl`` (one event per line), ``checkpoints.jsonl``
(signed tree heads), ``audit-signing.pub.pem`` (the Ed25519 public key, the current one),
``audit-keys.json`` (the history of the audit keys) and this script.

The key history lists every audit key, oldest first, each with the period (microseconds,
inclusive; ``null``: open) its checkpoints may bear, and every rotation, signed by both
the retiring and the new key over
``"vigie-audit-key-rotation/v1\n<old fingerprint>\n<new fingerprint>\n<time us>\n"``.
So the expected key (``--fingerprint``) may be any key of the history: the signed
rotations link it to the others. Each checkpoint must verify with the key whose period
holds its time. An export without ``audit-keys.json`` (older Vigie) has one key.

Format (strict: every line is one JSON object with exactly these fields, no other,
no duplicate; "hex32" is 64 lower-case hex digits, "hex64" 128; "int" excludes booleans)::

    events.jsonl       seq int, at str, at_us int, actor str, processor_id int|null,
                       key_id int|null, origin str|null, action str, purpose str|null,
                       subjects [int], fields [str], outcome str, detail str|null,
                       prev_hash hex32, hash hex32
    checkpoints.jsonl  id int, size int, root hex32, at_us int, at str, signature hex64
    proof (inclusion)  type "inclusion", seq int, event <event>, leaf_index int,
                       leaf_hash hex32, path [hex32], checkpoint <checkpoint>
    proof (consistency) type "consistency", old <checkpoint>, new <checkpoint>,
                       path [hex32]

``at`` is the ISO 8601 form of ``at_us`` (microseconds since the Unix epoch, UTC);
``detail`` is the event's JSON text as stored. The check:

1. every checkpoint's Ed25519 signature, by the key of its time, over
   ``"vigie-audit-checkpoint/v1\\n<size>\\n<root hex>\\n<time us>\\n"``;
2. every event, in order: numbers 1, 2, 3...; ``prev_hash`` equal to the previous
   event's hash (zeros for the first); ``hash`` equal to
   ``SHA-256(0x00 || prev_hash || body)`` where ``body`` is the compact JSON array
   ``[1, seq, at_us, actor, processor_id, key_id, origin, action, purpose, fields,
   outcome, detail]`` (``fields``: names joined by ","; ``detail``: the JSON text as
   stored), a newline byte, then the people's ids packed as unsigned LEB128 varints of
   the gaps between the sorted ids;
3. the RFC 6962 Merkle root of the first ``size`` event hashes equals each
   checkpoint's root; checkpoint ids increase, and sizes and times never go back;
4. no unanchored tail: the last checkpoint covers every exported event (an export is
   signed end to end; events after it fail, named);
5. the checkpoint sequence the trail records. Vigie records each checkpoint by an
   ``audit:checkpoint`` event placed right after the events it signs (event
   ``size + 1``), whose ``detail`` repeats the signed head: exactly
   ``{"at_us":int,"checkpoint":id,"root":hex32,"signature":hex64,"size":int}`` (older
   trails: exactly ``{"checkpoint":id,"size":int}``). Each such event must be at
   ``size + 1``, announce its checkpoint once, and find in ``checkpoints.jsonl`` the line
   of that id with the same size (and root, time and signature when it repeats them);
   every line must be announced, except the last when it covers every exported event:
   ``vigie audit export`` signs a checkpoint of exactly the events it writes, whose
   announcement is the next event, written after the export. So a checkpoint line
   deleted, replaced by another genuine one, or added fails, naming the checkpoint.
   These events are checked once every root has verified, so they are the signed
   trail's own record;
6. pruned disclosures (the audit trail's retention). A ``subject:read`` or
   ``subject:list`` event whose ``outcome`` is ``"pruned"`` has had its people and
   ``detail`` removed (``subjects`` ``[]``, ``detail`` null): its contents no longer
   hash to ``hash``, so only its link and its leaf are checked, the leaf being bound by
   every checkpoint root over it. It must lie at or below the horizon (``through``, an
   int in its ``detail``) of an ``audit:prune`` event exported after it; any other event
   marked pruned, or one beyond every horizon, fails. Each ``audit:prune`` covers the
   range from the previous one's ``through`` (its ``after``) to its own, and its
   ``digest`` is the SHA-256 (hex) of what is left of the events it pruned: for each, in
   order, the compact JSON array ``[seq, at_us, actor, processor_id, key_id, origin,
   action, purpose, fields]`` (``fields`` joined by ",") and a newline.

It prints ``OK <n> events, <k> checkpoints: ...; unanchored tail: none, ...; root <hex>;
signed by key <fingerprint>`` and exits 0; or prints ``FAILED:`` and the first problem
(which line, event, checkpoint or key, and why) and exits 1; or exits 2 when called
wrongly (no expected key, a malformed fingerprint). The OK line names the last
checkpoint and root: compare them with those ``vigie audit export`` printed, since an
export cut back to an earlier checkpoint (its later lines and events removed) verifies
as an export of that checkpoint.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Callable
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


# -- the format --------------------------------------------------------------------------

_HEX = {"hex32": re.compile(r"[0-9a-f]{64}"), "hex64": re.compile(r"[0-9a-f]{128}")}
_TYPES = {"int": "an integer", "str": "a string", "hex32": "64 lower-case hex digits",
          "hex64": "128 lower-case hex digits", "object": "a JSON object"}  # fmt: skip
_PLURAL = {"int": "integers", "str": "strings", "hex32": "hashes of 64 lower-case hex digits"}


class Format:
    """The fields of one kind of JSON object, each with its type ("int", "str|null", "[hex32]")."""

    def __init__(self, fields: dict[str, str]) -> None:
        self.fields = fields
        self.names = frozenset(fields)
        self.checks = [(name, *_compile(spec), spec) for name, spec in fields.items()]

    def __repr__(self) -> str:
        return f"Format({self.fields!r})"


_TYPE_OF = {"int": int, "str": str, "null": type(None), "object": dict, "hex32": str, "hex64": str}


def _compile(spec: str) -> tuple[frozenset[type], Callable[[Any], bool] | None]:
    """The JSON types a field may have, and a further test of its value, if any.

    ``type(v) is int`` excludes booleans and floats; everything runs in C per value.
    """
    if spec.startswith("["):
        kind = spec[1:-1]
        item_types = {_TYPE_OF[kind]}
        rx = _HEX.get(kind)
        if rx is None:
            return frozenset({list}), lambda v: set(map(type, v)) <= item_types
        return frozenset(
            {list}
        ), lambda v: set(map(type, v)) <= item_types and all(map(rx.fullmatch, v))
    kinds = spec.split("|")
    hexes = [_HEX[k] for k in kinds if k in _HEX]
    test = (lambda v: hexes[0].fullmatch(v) is not None) if hexes else None
    return frozenset(_TYPE_OF[k] for k in kinds), test


EVENT = Format({
    "seq": "int", "at": "str", "at_us": "int", "actor": "str", "processor_id": "int|null",
    "key_id": "int|null", "origin": "str|null", "action": "str", "purpose": "str|null",
    "subjects": "[int]", "fields": "[str]", "outcome": "str", "detail": "str|null",
    "prev_hash": "hex32", "hash": "hex32",
})  # fmt: skip
CHECKPOINT = Format({"id": "int", "size": "int", "root": "hex32", "at_us": "int", "at": "str",
                     "signature": "hex64"})  # fmt: skip
INCLUSION = Format({"type": "str", "seq": "int", "event": "object", "leaf_index": "int",
                    "leaf_hash": "hex32", "path": "[hex32]", "checkpoint": "object"})  # fmt: skip
CONSISTENCY = Format({"type": "str", "old": "object", "new": "object", "path": "[hex32]"})


def _describe(spec: str) -> str:
    if spec.startswith("["):
        return f"a list of {_PLURAL[spec[1:-1]]}"
    return " or ".join("null" if k == "null" else _TYPES[k] for k in spec.split("|"))


def check_fields(obj: Any, fmt: Format, where: str) -> None:
    """Raise unless ``obj`` is an object with exactly the fields of ``fmt``, each of its type."""
    if type(obj) is not dict:
        raise Failure(f"{where}: not a JSON object")
    if obj.keys() != fmt.names:
        for name in obj:
            if name not in fmt.names:
                raise Failure(f"{where}: unknown field {name!r} (the format does not define it)")
        missing = next(name for name in fmt.fields if name not in obj)
        raise Failure(f"{where}: missing field {missing!r}")
    for name, types, test, spec in fmt.checks:
        value = obj[name]
        if type(value) not in types or (test is not None and not test(value)):
            raise Failure(f"{where}: field {name!r} must be {_describe(spec)}")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise ValueError(f"duplicate field {name!r}")
            seen.add(name)
    return out


_DECODER = json.JSONDecoder(object_pairs_hook=_object)


def parse_json(text: str, where: str) -> Any:
    """Parse JSON text, refusing duplicate fields (``json`` would keep the last one)."""
    try:
        return _DECODER.decode(text)
    except ValueError as exc:  # JSONDecodeError is a ValueError
        message = str(exc) if str(exc).startswith("duplicate") else f"not JSON: {exc}"
        raise Failure(f"{where}: {message}") from None


def _jsonl(path: Path, fmt: Format) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            where = f"line {line_no} of {path.name}"
            row = parse_json(line, where)
            check_fields(row, fmt, where)
            rows.append(row)
    return rows


# -- the key --------------------------------------------------------------------------------

BUNDLED_KEY = "audit-signing.pub.pem"
NO_KEY = (
    "give the expected signing key: --fingerprint HEX (64 hex digits) or --key FILE (PEM). "
    "The key inside the export cannot vouch for itself: anyone who rewrites an export can "
    "re-sign it with a key of their own. Learn the controller's audit-key fingerprint "
    "independently: from its breach notification to the authority, its public service, or "
    "its staff (`vigie audit key`)."
)


def fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 (hex) of the raw 32-byte public key: the name Vigie publishes for its key."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def parse_fingerprint(text: str) -> str:
    """The fingerprint in lower case; raises ``ValueError`` unless it is 64 hex digits."""
    value = text.strip().lower()
    if not _HEX["hex32"].fullmatch(value):
        raise ValueError(f"a fingerprint is 64 hex digits, not {text!r}")
    return value


def load_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except ValueError:
        raise Failure(f"{path} is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise Failure(f"{path} is not an Ed25519 public key")
    return key


def expected_key(
    *, key_file: Path | None, expected_fingerprint: str | None, candidate: Path | None
) -> Ed25519PublicKey:
    """The key to check signatures with, vouched for from outside the export.

    ``key_file`` is a key the caller trusts (its fingerprint must be
    ``expected_fingerprint`` if both are given); otherwise ``candidate`` (the export's
    key) is used only if its fingerprint is ``expected_fingerprint``.
    """
    if key_file is not None:
        key = load_key(key_file)
        source = str(key_file)
    elif expected_fingerprint is not None and candidate is not None:
        key = load_key(candidate)
        source = f"the export's key ({candidate.name})"
    else:
        raise Failure(NO_KEY)
    if expected_fingerprint is not None and fingerprint(key) != expected_fingerprint:
        raise Failure(
            f"{source} has fingerprint {fingerprint(key)}, not the expected "
            f"{expected_fingerprint}: this is not the controller's audit key"
        )
    return key


def check_signature(head: dict[str, Any], key: Ed25519PublicKey) -> None:
    """Raise unless ``key`` signed this checkpoint (whose fields are already checked)."""
    text = f"vigie-audit-checkpoint/v1\n{head['size']}\n{head['root']}\n{head['at_us']}\n"
    try:
        key.verify(bytes.fromhex(head["signature"]), text.encode())
    except InvalidSignature:
        raise Failure(
            f"checkpoint #{head['id']}: signature does not verify with key {fingerprint(key)}"
        ) from None
    if head["at"] != _iso(head["at_us"]):
        raise Failure(f"checkpoint #{head['id']}: its readable time does not match at_us")


# -- the key history ------------------------------------------------------------------------

KEY_HISTORY = "audit-keys.json"
ROTATION_HEADER = "vigie-audit-key-rotation/v1"
HISTORY_KEY = Format({"fingerprint": "hex32", "public_key": "str", "from_us": "int|null",
                      "until_us": "int|null"})  # fmt: skip
HISTORY_ROTATION = Format({"old": "hex32", "new": "hex32", "at_us": "int",
                           "old_signature": "hex64", "new_signature": "hex64"})  # fmt: skip


def rotation_message(old: str, new: str, at_us: int) -> bytes:
    """The bytes both keys sign when the audit key is rotated from ``old`` to ``new``."""
    return f"{ROTATION_HEADER}\n{old}\n{new}\n{at_us}\n".encode()


class KeyPeriod:
    """One audit key and the times (microseconds, inclusive) its checkpoints may bear."""

    def __init__(self, key: Ed25519PublicKey, from_us: int | None, until_us: int | None) -> None:
        self.key = key
        self.fingerprint = fingerprint(key)
        self.from_us = from_us
        self.until_us = until_us

    def covers(self, at_us: int) -> bool:
        """Whether a checkpoint signed at ``at_us`` falls in this key's period."""
        return (self.from_us is None or at_us >= self.from_us) and (
            self.until_us is None or at_us <= self.until_us
        )


def check_key_history(data: Any) -> list[KeyPeriod]:
    """The periods of a key history (``audit-keys.json``), every rotation checked; or raise.

    The history lists the keys oldest first, each valid from the rotation that brought it
    to the rotation that retired it. Each rotation is signed by both keys over
    ``"vigie-audit-key-rotation/v1\\n<old>\\n<new>\\n<time us>\\n"``: whoever trusts
    either key can follow the chain to the other.
    """
    if type(data) is not dict or data.keys() != {"format", "keys", "rotations"}:
        raise Failure(f"{KEY_HISTORY}: not a key history (format, keys, rotations)")
    if data["format"] != "vigie-audit-keys/v1":
        raise Failure(f"{KEY_HISTORY}: unknown format {data['format']!r}")
    keys, rotations = data["keys"], data["rotations"]
    if type(keys) is not list or type(rotations) is not list or not keys:
        raise Failure(f"{KEY_HISTORY}: keys and rotations must be lists, keys not empty")
    if len(rotations) != len(keys) - 1:
        raise Failure(f"{KEY_HISTORY}: {len(keys)} keys need {len(keys) - 1} rotations")
    periods = []
    for i, entry in enumerate(keys):
        where = f"{KEY_HISTORY}: key {i + 1}"
        check_fields(entry, HISTORY_KEY, where)
        try:
            key = serialization.load_pem_public_key(entry["public_key"].encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raise Failure(f"{where}: not a PEM public key") from None
        if not isinstance(key, Ed25519PublicKey):
            raise Failure(f"{where}: not an Ed25519 public key")
        period = KeyPeriod(key, entry["from_us"], entry["until_us"])
        if period.fingerprint != entry["fingerprint"]:
            raise Failure(f"{where}: its fingerprint is not its key's")
        periods.append(period)
    if periods[0].from_us is not None or periods[-1].until_us is not None:
        raise Failure(f"{KEY_HISTORY}: the first key has no start, the last no end")
    for i, rotation in enumerate(rotations):
        where = f"{KEY_HISTORY}: rotation {i + 1}"
        check_fields(rotation, HISTORY_ROTATION, where)
        old, new = periods[i], periods[i + 1]
        at = rotation["at_us"]
        if (rotation["old"], rotation["new"]) != (old.fingerprint, new.fingerprint):
            raise Failure(f"{where}: does not name keys {i + 1} and {i + 2}")
        if old.until_us != at or new.from_us != at:
            raise Failure(f"{where}: the keys' periods do not meet at its time")
        if old.from_us is not None and old.from_us > at:
            raise Failure(f"{where}: goes back in time")
        text = rotation_message(old.fingerprint, new.fingerprint, at)
        for signer, field in ((old, "old_signature"), (new, "new_signature")):
            try:
                signer.key.verify(bytes.fromhex(rotation[field]), text)
            except InvalidSignature:
                raise Failure(f"{where}: {field} is not key {signer.fingerprint}'s") from None
    return periods


def load_key_history(path: Path) -> list[KeyPeriod]:
    """The checked key history in file ``path``."""
    return check_key_history(parse_json(path.read_text(encoding="utf-8"), path.name))


def key_at(periods: list[KeyPeriod], head: dict[str, Any]) -> Ed25519PublicKey:
    """The key that must have signed checkpoint ``head`` (by its time), its signature checked."""
    candidates = [p for p in periods if p.covers(head["at_us"])]
    if not candidates:
        raise Failure(f"checkpoint #{head['id']}: signed at a time no audit key covers")
    for period in candidates[:-1]:  # a rotation's own instant: either key
        try:
            check_signature(head, period.key)
            return period.key
        except Failure:
            continue
    check_signature(head, candidates[-1].key)
    return candidates[-1].key


# -- the export -----------------------------------------------------------------------------


def verify_export(directory: Path, *, key: Ed25519PublicKey) -> str:
    """Verify an export directory against the expected ``key``; return a summary.

    Raises :class:`Failure` if the export's own key is not ``key``, or anything in the
    export does not verify with it.
    """
    try:
        return _verify_export(directory, key)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise Failure(f"malformed export: {type(exc).__name__}: {exc}") from None


def _export_keys(directory: Path, key: Ed25519PublicKey) -> list[KeyPeriod]:
    """The export's key history (or its one key), which must hold the expected ``key``."""
    bundled = fingerprint(load_key(directory / BUNDLED_KEY))
    if not (directory / KEY_HISTORY).exists():
        periods = [KeyPeriod(load_key(directory / BUNDLED_KEY), None, None)]
    else:
        periods = load_key_history(directory / KEY_HISTORY)
        if periods[-1].fingerprint != bundled:
            raise Failure(f"{KEY_HISTORY}: its last key is not the export's {BUNDLED_KEY}")
    if fingerprint(key) not in {p.fingerprint for p in periods}:
        raise Failure(
            f"the export carries key {bundled}, not the expected key {fingerprint(key)}: "
            "it was not signed by the controller's audit key"
        )
    return periods


def _verify_export(directory: Path, key: Ed25519PublicKey) -> str:
    periods = _export_keys(directory, key)
    heads = _jsonl(directory / "checkpoints.jsonl", CHECKPOINT)
    if not heads:
        raise Failure("no checkpoint: nothing signs this export")
    by_size: dict[int, list[dict[str, Any]]] = {}
    prev_head: dict[str, Any] | None = None
    for head in heads:
        key_at(periods, head)
        if prev_head is not None:
            check_order(prev_head, head)
        prev_head = head
        by_size.setdefault(head["size"], []).append(head)
    last_size = max(by_size)
    for head in by_size.pop(0, []):  # signed before the first event: the empty tree
        if bytes.fromhex(head["root"]) != _fold([]):
            raise Failure(f"checkpoint #{head['id']}: root does not match the empty trail")
    announcements: list[tuple[int, str | None]] = []
    horizons: list[tuple[int, int]] = []  # (seq, through) of the audit:prune events
    prunes: list[tuple[int, str | None]] = []  # (seq, detail) of the same
    left: list[list[Any]] = []  # what is left of each pruned event, in order
    pruned, last_pruned = 0, 0
    frontier: list[bytes] = []
    prev = GENESIS
    n = 0
    with (directory / "events.jsonl").open(encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            where = f"line {line_no} of events.jsonl"
            event = parse_json(line, where)
            check_fields(event, EVENT, where)
            try:
                seq = event["seq"]
                if seq != n + 1:
                    raise Failure(
                        f"event {n + 1} missing or out of place (line {line_no} is {seq})"
                    )
                if bytes.fromhex(event["prev_hash"]) != prev:
                    raise Failure(f"event {seq}: prev_hash does not link to event {seq - 1}")
                if event["outcome"] == PRUNED:
                    h = _pruned_leaf(event)
                    pruned, last_pruned = pruned + 1, seq
                    left.append(_kept(event))
                else:
                    h = event_hash(event)
                if h.hex() != event["hash"]:
                    raise Failure(f"event {seq}: contents do not match its hash (altered)")
                if event["at"] != _iso(event["at_us"]):
                    raise Failure(f"event {seq}: its readable time does not match at_us")
            except (KeyError, TypeError, ValueError, OverflowError) as exc:
                raise Failure(f"{where} is malformed: {exc}") from None
            if event["action"] == ANNOUNCEMENT_ACTION:
                announcements.append((seq, event["detail"]))
            elif event["action"] == PRUNE_ACTION:
                horizons.append((seq, _horizon(event["detail"])))
                prunes.append((seq, event["detail"]))
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
    last = heads[-1]
    if n != last_size:
        raise Failure(_unanchored(last, n))
    check_sequence(heads, announcements, exported=n)
    if pruned and not any(h >= last_pruned and seq > h for seq, h in horizons):
        raise Failure(
            f"event {last_pruned}: pruned, but no audit:prune event announces a horizon "
            "that reaches it (its people were removed outside retention)"
        )
    check_prunes(prunes, left)
    before = len(heads) - 1
    announced = (
        f"#{last['id']} is the export's own (announced by event {n + 1}, after the export)"
        + (f", the {before} earlier announced in events.jsonl one for one" if before else "")
    )
    return (
        f"OK {n} events, {len(heads)} checkpoints: {announced}; unanchored tail: none, "
        f"checkpoint #{last['id']} covers every event; root {_fold(frontier).hex()}; "
        + (
            f"{pruned} disclosures pruned past retention (leaves kept, up to event {last_pruned}); "
            if pruned
            else ""
        )
        + _signed_by(periods)
    )


# -- pruned disclosures -------------------------------------------------------------------

PRUNED = "pruned"
PRUNE_ACTION = "audit:prune"
DISCLOSING = ("subject:read", "subject:list")


def _pruned_leaf(event: dict[str, Any]) -> bytes:
    """The leaf of a pruned disclosure (its stored hash), once its shape is checked."""
    if event["action"] not in DISCLOSING or event["subjects"] or event["detail"] is not None:
        raise Failure(
            f"event {event['seq']}: marked pruned, but only a disclosure's people and detail "
            "are ever pruned (the event was altered)"
        )
    return bytes.fromhex(event["hash"])


def _kept(event: dict[str, Any]) -> list[Any]:
    """What a pruned event keeps, in the order its ``audit:prune`` digest reads it."""
    return [
        event["seq"], event["at_us"], event["actor"], event["processor_id"], event["key_id"],
        event["origin"], event["action"], event["purpose"], ",".join(event["fields"]),
    ]  # fmt: skip


def _digest(rows: list[list[Any]]) -> str:
    sha = hashlib.sha256()
    for row in rows:
        sha.update(json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode() + b"\n")
    return sha.hexdigest()


def check_prunes(prunes: list[tuple[int, str | None]], left: list[list[Any]]) -> None:
    """Raise unless each ``audit:prune`` starts where the previous ended and its digest is
    that of what is left of the events it pruned."""
    at = previous = 0
    for seq, detail in prunes:
        try:
            data = json.loads(detail or "{}")
        except ValueError:
            data = {}
        data = data if isinstance(data, dict) else {}
        through = data.get("through")
        if data.get("after") != previous or not isinstance(through, int) or through < previous:
            raise Failure(f"event {seq} (audit:prune): its range does not follow the previous one")
        end = at
        while end < len(left) and left[end][0] <= through:
            end += 1
        if _digest(left[at:end]) != data.get("digest"):
            raise Failure(
                f"event {seq} (audit:prune): the events it pruned (up to event {through}) are "
                "no longer as it recorded them (a pruned event was altered)"
            )
        at, previous = end, through


def _horizon(detail: str | None) -> int:
    """The horizon (``through``) an ``audit:prune`` event announces; 0 if none."""
    try:
        value = json.loads(detail or "{}").get("through", 0)
    except (ValueError, AttributeError):
        return 0
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _signed_by(periods: list[KeyPeriod]) -> str:
    if len(periods) == 1:
        return f"signed by key {periods[0].fingerprint}"
    chain = " -> ".join(p.fingerprint for p in periods)
    return f"signed by {len(periods)} keys in turn, each rotation signed by both: {chain}"


def _unanchored(last: dict[str, Any], n: int) -> str:
    """Why events after the last checkpoint fail: an export is signed end to end."""
    first = last["size"] + 1
    which, verb, noun = (
        (f"event {first}", "is", "event was") if first == n
        else (f"events {first}..{n}", "are", "events were")
    )  # fmt: skip
    return (
        f"unanchored tail: {which} after checkpoint #{last['id']} ({last['size']} events) "
        f"{verb} signed by no checkpoint, and an export is signed end to end (the {noun} added)"
    )


def check_order(prev: dict[str, Any], head: dict[str, Any]) -> None:
    """Raise unless ``head`` comes after ``prev``: a larger id, no fewer events, no earlier time."""
    if head["id"] <= prev["id"]:
        raise Failure(f"checkpoint #{head['id']}: listed after checkpoint #{prev['id']}")
    if head["size"] < prev["size"]:
        raise Failure(
            f"checkpoint #{head['id']}: signs {head['size']} events, fewer than checkpoint "
            f"#{prev['id']} ({prev['size']}): sizes never go back"
        )
    if head["at_us"] < prev["at_us"]:
        raise Failure(
            f"checkpoint #{head['id']}: signed before checkpoint #{prev['id']} "
            "(times never go back)"
        )


# -- the checkpoint sequence ----------------------------------------------------------------

ANNOUNCEMENT_ACTION = "audit:checkpoint"
ANNOUNCEMENT = Format({"checkpoint": "int", "size": "int", "root": "hex32", "at_us": "int",
                       "signature": "hex64"})  # fmt: skip
OLDER_ANNOUNCEMENT = Format({"checkpoint": "int", "size": "int"})
_REPEATED = ("root", "at_us", "signature")


def check_sequence(
    heads: list[dict[str, Any]], announcements: list[tuple[int, str | None]], *, exported: int
) -> None:
    """Raise unless the checkpoint lines and the ``audit:checkpoint`` events match one for one.

    ``announcements`` are the (seq, detail) of those events, already proven part of the
    signed trail. Each (event ``size + 1``, whose detail repeats the signed head or, in
    older trails, its id and size) must find its checkpoint line unchanged. Each line must
    be announced, except the last when it signs all ``exported`` events: ``vigie audit
    export`` signs a checkpoint of exactly the events it writes, and that checkpoint's
    announcement is the next event, written after the export.
    """
    by_id = {head["id"]: head for head in heads}
    seen: set[int] = set()
    for seq, detail in announcements:
        seen.add(_announcement(seq, detail, by_id, seen))
    for head in heads:
        if head["id"] in seen:
            continue
        if head is heads[-1] and head["size"] == exported:
            continue  # its announcement, event size + 1, follows the export
        raise Failure(
            f"checkpoint #{head['id']}: not announced in events.jsonl (event "
            f"{head['size'] + 1} should record it: the event was removed, or the line added)"
        )


def _announcement(
    seq: int, detail: str | None, by_id: dict[int, dict[str, Any]], seen: set[int]
) -> int:
    """Check event ``seq``'s announcement against its checkpoint line; return its id."""
    where = f"event {seq} ({ANNOUNCEMENT_ACTION})"
    if detail is None:
        raise Failure(f"{where}: no detail, so it announces no checkpoint")
    data = parse_json(detail, where)
    older = type(data) is dict and data.keys() == OLDER_ANNOUNCEMENT.names
    check_fields(data, OLDER_ANNOUNCEMENT if older else ANNOUNCEMENT, where)
    cp_id, size = data["checkpoint"], data["size"]
    if cp_id in seen:
        raise Failure(f"event {seq}: announces checkpoint #{cp_id} a second time")
    if seq != size + 1:
        raise Failure(
            f"event {seq}: announces checkpoint #{cp_id} of {size} events out of place "
            f"(it must be event {size + 1})"
        )
    head = by_id.get(cp_id)
    if head is None:
        raise Failure(
            f"checkpoint #{cp_id}: announced by event {seq} but missing from checkpoints.jsonl "
            "(its line was deleted)"
        )
    if head["size"] != size or (not older and any(head[k] != data[k] for k in _REPEATED)):
        raise Failure(
            f"checkpoint #{cp_id}: differs from the head event {seq} recorded when it was "
            "signed (its line was replaced)"
        )
    return int(cp_id)


# -- proofs ---------------------------------------------------------------------------------


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


def verify_proof(proof: Any, key: Ed25519PublicKey) -> str:
    """Verify a proof written by ``vigie audit prove --json`` against the expected ``key``."""
    try:
        return _verify_proof(proof, key)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise Failure(f"malformed proof: {type(exc).__name__}: {exc}") from None


def _verify_proof(proof: Any, key: Ed25519PublicKey) -> str:
    kind = proof.get("type") if isinstance(proof, dict) else None
    if kind not in ("inclusion", "consistency"):
        raise Failure('proof: field \'type\' must be "inclusion" or "consistency"')
    signed_by = f"signed by key {fingerprint(key)}"
    if kind == "inclusion":
        check_fields(proof, INCLUSION, "proof")
        check_fields(proof["event"], EVENT, "proof.event")
        check_fields(proof["checkpoint"], CHECKPOINT, "proof.checkpoint")
        seq, head = proof["seq"], proof["checkpoint"]
        if proof["leaf_index"] != seq - 1 or proof["event"]["seq"] != seq:
            raise Failure(f"proof: leaf_index and event.seq must be seq - 1 and seq ({seq})")
        check_signature(head, key)
        leaf = bytes.fromhex(proof["leaf_hash"])
        event = proof["event"]
        if event_hash(event) != leaf or event["hash"] != proof["leaf_hash"]:
            raise Failure(f"event {seq}: contents do not match the proven hash")
        if event["at"] != _iso(event["at_us"]):
            raise Failure(f"event {seq}: its readable time does not match at_us")
        path = [bytes.fromhex(p) for p in proof["path"]]
        verify_inclusion(seq - 1, head["size"], leaf, path, bytes.fromhex(head["root"]))
        return f"OK event {seq} is in checkpoint #{head['id']} ({head['size']} events); {signed_by}"
    check_fields(proof, CONSISTENCY, "proof")
    old, new = proof["old"], proof["new"]
    check_fields(old, CHECKPOINT, "proof.old")
    check_fields(new, CHECKPOINT, "proof.new")
    check_signature(old, key)
    check_signature(new, key)
    path = [bytes.fromhex(p) for p in proof["path"]]
    verify_consistency(
        old["size"], new["size"], bytes.fromhex(old["root"]), bytes.fromhex(new["root"]), path
    )
    return (
        f"OK checkpoint #{old['id']} ({old['size']}) is a prefix of #{new['id']} "
        f"({new['size']}); {signed_by}"
    )


# -- dossiers -------------------------------------------------------------------------------

DOSSIER_CONTEXT = b"vigie-dossier-manifest/v1\n"
MANIFEST, MANIFEST_SIG = "manifest.json", "manifest.sig"


def _canonical_sha256(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def verify_dossier(directory: Path, *, key: Ed25519PublicKey) -> str:
    """Verify a dossier written by ``vigie processors dossier`` (see docs/requirements.md):

    1. ``manifest.sig`` is ``key``'s Ed25519 signature (hex) over
       ``"vigie-dossier-manifest/v1\\n"`` followed by the bytes of ``manifest.json``;
    2. every file the manifest lists has its SHA-256, and no other file is there
       (besides the manifest, its signature and the bundled key and script);
    3. every inclusion proof under ``proofs/`` verifies against a checkpoint ``key``
       signed, and the manifest's ``cited`` sequence numbers are exactly the proofs';
    4. each requirement quoted in ``dossier.json`` hashes (canonical JSON) to the
       ``content_sha256`` its proven event recorded, so the text is the one applied.
    """
    try:
        raw = (directory / MANIFEST).read_bytes()
        signature = bytes.fromhex((directory / MANIFEST_SIG).read_text(encoding="ascii").strip())
    except ValueError:
        raise Failure("manifest.sig: not hex") from None
    try:
        key.verify(signature, DOSSIER_CONTEXT + raw)
    except InvalidSignature:
        raise Failure("manifest.sig: not the expected key's signature of manifest.json") from None
    manifest = parse_json(raw.decode("utf-8"), MANIFEST)
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict):
        raise Failure("manifest.json: no 'files' mapping")
    for name, digest in sorted(files.items()):
        path = directory / name
        if ".." in Path(name).parts or not path.is_file():
            raise Failure(f"{name}: listed in the manifest but missing")
        if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise Failure(f"{name}: SHA-256 differs from the manifest")
    extra = (
        {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}
        - set(files)
        - {MANIFEST, MANIFEST_SIG, BUNDLED_KEY, "verify_trail.py"}
    )
    if extra:
        raise Failure(f"{sorted(extra)[0]}: not listed in the manifest")
    events: dict[int, dict[str, Any]] = {}
    for name in sorted(n for n in files if n.startswith("proofs/")):
        proof = parse_json((directory / name).read_text(encoding="utf-8"), name)
        try:
            verify_proof(proof, key)
        except Failure as exc:
            raise Failure(f"{name}: {exc}") from None
        events[proof["seq"]] = proof["event"]
    if sorted(events) != sorted(manifest.get("cited", [])):
        raise Failure("manifest.json: 'cited' does not match the proofs present")
    dossier = parse_json((directory / "dossier.json").read_text(encoding="utf-8"), "dossier.json")
    quoted = 0
    for item in dossier.get("requirements", []):
        seq, content = item.get("audit_seq"), item.get("content")
        event = events.get(seq)
        if event is None:
            raise Failure(f"requirement {item.get('id')}: its event {seq} has no proof")
        detail = json.loads(event["detail"] or "{}")
        if detail.get("content_sha256") != _canonical_sha256(content):
            raise Failure(f"requirement {item.get('id')}: the quoted text is not the one applied "
                          f"(event {seq})")  # fmt: skip
        quoted += 1
    return (
        f"OK dossier: manifest signed by key {fingerprint(key)}; {len(files)} files match; "
        f"{len(events)} cited events proven; {quoted} requirement texts match the trail"
    )


def export_key(directory: Path, *, key_file: Path | None, expected: str | None) -> Ed25519PublicKey:
    """The expected key for an export: as :func:`expected_key`, or, when the export carries a
    key history, the key of that history whose fingerprint is ``expected`` (a key retired
    since the recipient learnt it still vouches for the whole chain)."""
    if key_file is None and expected is not None and (directory / KEY_HISTORY).exists():
        for period in load_key_history(directory / KEY_HISTORY):
            if period.fingerprint == expected:
                return period.key
    return expected_key(
        key_file=key_file, expected_fingerprint=expected, candidate=directory / BUNDLED_KEY
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Verify an exported Vigie audit trail against the controller's audit key, "
        "learnt independently of the export.",
        epilog=NO_KEY,
    )
    parser.add_argument("directory", nargs="?", type=Path, help="an export directory")
    parser.add_argument("--proof", type=Path, help="a proof file from `vigie audit prove --json`")
    parser.add_argument(
        "--fingerprint",
        help="the expected key's fingerprint (64 hex digits, as `vigie audit key` prints it)",
    )
    parser.add_argument("--key", type=Path, help="the expected public key (PEM file)")
    parser.add_argument("--dossier", type=Path, help="a dossier from `vigie processors dossier`")
    args = parser.parse_args(argv)
    expected = None
    if args.fingerprint is not None:
        try:
            expected = parse_fingerprint(args.fingerprint)
        except ValueError as exc:
            parser.error(str(exc))
    if args.key is None and expected is None:
        parser.error(NO_KEY)
    if args.proof is None and args.directory is None and args.dossier is None:
        parser.error("give an export directory, --proof FILE or --dossier DIR")
    if args.proof is not None and args.key is None:
        parser.error("a proof carries no key: --proof needs --key FILE (and, to check that "
                     "file, --fingerprint HEX)")  # fmt: skip
    try:
        if args.proof is not None:
            key = expected_key(key_file=args.key, expected_fingerprint=expected, candidate=None)
            proof = parse_json(args.proof.read_text(encoding="utf-8"), "proof")
            print(verify_proof(proof, key))
        elif args.dossier is not None:
            key = expected_key(
                key_file=args.key,
                expected_fingerprint=expected,
                candidate=args.dossier / BUNDLED_KEY,
            )
            print(verify_dossier(args.dossier, key=key))
        else:
            key = export_key(args.directory, key_file=args.key, expected=expected)
            print(verify_export(args.directory, key=key))
    except Failure as exc:
        print(f"FAILED: {exc}")
        return 1
    except (OSError, UnicodeDecodeError) as exc:
        print(f"FAILED: unreadable input: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
