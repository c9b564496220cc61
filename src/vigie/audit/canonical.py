"""The canonical encoding of an audit event, and the compact encoding of its people.

An event's ``body`` is the compact JSON array

    [1, seq, at_us, actor, processor_id, key_id, origin, action, purpose, fields,
     outcome, detail]

followed by one newline byte (0x0A) and the raw ``subjects`` bytes (the delta-varint
encoding of the sorted internal ids of the people disclosed). ``1`` is the format
version, ``fields`` the sorted field names joined by ``,``, ``detail`` the stored JSON
text or null. The JSON is exactly what ``json.dumps(..., ensure_ascii=False,
separators=(",", ":"))`` writes (and what SQLite's ``json_array`` writes), so the
standalone verifier needs only the standard library; compact JSON never holds a raw
newline byte, so the split is unambiguous. The entry hash is the RFC 6962 leaf hash of
``prev_hash || body``, so one hash serves as both the chain link and the Merkle leaf:

    entry_hash = SHA-256(0x00 || prev_hash || body)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

FORMAT_VERSION = 1
GENESIS = bytes(32)
"""The ``prev_hash`` of the first event."""


def encode_subjects(ids: Iterable[int]) -> bytes:
    """Sorted, de-duplicated ids as unsigned LEB128 varints of the gaps between them."""
    out = bytearray()
    prev = 0
    for value in sorted(set(ids)):
        if value < 0:
            raise ValueError("subject ids are non-negative")
        gap = value - prev
        prev = value
        while gap >= 0x80:
            out.append((gap & 0x7F) | 0x80)
            gap >>= 7
        out.append(gap)
    return bytes(out)


def decode_subjects(data: bytes) -> list[int]:
    """The ids encoded by :func:`encode_subjects`; raises ``ValueError`` on a cut varint."""
    ids: list[int] = []
    value = shift = 0
    current = 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
            continue
        current += value
        ids.append(current)
        value = shift = 0
    if shift:
        raise ValueError("truncated subject encoding")
    return ids


def encode_fields(fields: Iterable[str]) -> str:
    """Sorted, de-duplicated field names joined by commas."""
    names = sorted(set(fields))
    for name in names:
        if not name or "," in name:
            raise ValueError(f"bad field name {name!r}")
    return ",".join(names)


def encode_detail(detail: Mapping[str, Any] | None) -> str | None:
    """``detail`` as JSON text with sorted keys (ids and counts only), or None."""
    if not detail:
        return None
    return orjson.dumps(dict(detail), option=orjson.OPT_SORT_KEYS).decode()


def body(
    seq: int,
    at_us: int,
    actor: str,
    processor_id: int | None,
    key_id: int | None,
    origin: str | None,
    action: str,
    purpose: str | None,
    subjects: bytes,
    fields: str,
    outcome: str,
    detail: str | None,
) -> bytes:
    """The canonical body of one event (the stored column values, in order)."""
    head = orjson.dumps(
        [
            FORMAT_VERSION,
            seq,
            at_us,
            actor,
            processor_id,
            key_id,
            origin,
            action,
            purpose,
            fields,
            outcome,
            detail,
        ]
    )
    return head + b"\n" + subjects


def chain(prev_hash: bytes, first_seq: int, rows: Iterable[Sequence[Any]]) -> list[bytes]:
    """The entry hashes of events ``first_seq, first_seq + 1, ...`` chained after
    ``prev_hash``: :func:`entry_hash` of :func:`body` for each, in one loop (the sequencer
    chains thousands per batch). ``rows`` hold :func:`body`'s arguments after ``seq``."""
    dumps, sha256 = orjson.dumps, hashlib.sha256
    out: list[bytes] = []
    seq = first_seq
    for at, actor, pid, key, origin, action, purpose, subjects, fields, outcome, detail in rows:
        head = dumps(
            [FORMAT_VERSION, seq, at, actor, pid, key, origin, action, purpose, fields,
             outcome, detail]
        )  # fmt: skip
        prev_hash = sha256(b"\x00" + prev_hash + head + b"\n" + subjects).digest()
        out.append(prev_hash)
        seq += 1
    return out


def entry_hash(prev_hash: bytes, event_body: bytes) -> bytes:
    """The event's hash: its RFC 6962 leaf hash over ``prev_hash || body``."""
    return hashlib.sha256(b"\x00" + prev_hash + event_body).digest()
