"""Opaque page cursors: authenticated, bound to one processor, revealing no internal id.

A cursor says "continue after this person". It is::

    base64url( version | processor_id | issued_at | position | HMAC-SHA256(...)[:16] )

- ``position`` is the last person's *pseudonym for that processor* (see
  :mod:`vigie.fingerprint.pseudonyms`), so the cursor shows no internal row id that two
  processors could compare to link their pseudonyms;
- the HMAC key is derived from the instance secret (``"gateway:cursor"``), so a cursor
  cannot be forged or altered; it covers the processor id, so a cursor issued to one
  processor is refused from another (no replay across processors);
- ``issued_at`` lets a cursor expire (``Settings.gateway_cursor_ttl_seconds``).

Any defect — bad base64, wrong length, wrong MAC, another processor, expired — raises
:class:`InvalidCursor` with one and the same message: the caller learns nothing about why.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from datetime import datetime

from vigie.errors import InvalidInput
from vigie.fingerprint.pseudonyms import PSEUDONYM_LENGTH, MalformedPseudonym, Pseudonymiser
from vigie.secrets import InstanceSecrets

VERSION = 1
_HEAD = struct.Struct(">BIQ")  # version, processor_id, issued_at (unix seconds)
_MAC_LENGTH = 16
_RAW_LENGTH = _HEAD.size + PSEUDONYM_LENGTH + _MAC_LENGTH
MAX_CURSOR_LENGTH = 96  # the encoded form is 75 characters; anything longer is refused early


class InvalidCursor(InvalidInput):
    """The cursor was not issued by this instance to this processor, or has expired."""

    def __init__(self) -> None:
        super().__init__("invalid or expired cursor; restart the listing without a cursor")


class CursorCodec:
    """Encodes and checks the cursors of one instance."""

    def __init__(self, secrets: InstanceSecrets, *, ttl_seconds: int) -> None:
        self._key = secrets.derive("gateway:cursor")
        self._ttl = ttl_seconds

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()[:_MAC_LENGTH]

    def encode(self, *, pseudonymiser: Pseudonymiser, after_subject_id: int, now: datetime) -> str:
        """A cursor continuing after ``after_subject_id`` for ``pseudonymiser``'s processor."""
        head = _HEAD.pack(VERSION, pseudonymiser.processor_id, int(now.timestamp()))
        body = head + pseudonymiser.encode(after_subject_id).encode("ascii")
        return base64.urlsafe_b64encode(body + self._mac(body)).decode("ascii").rstrip("=")

    def decode(self, cursor: str, *, pseudonymiser: Pseudonymiser, now: datetime) -> int:
        """The subject id to continue after; raise :class:`InvalidCursor` on any defect."""
        if len(cursor) > MAX_CURSOR_LENGTH or not cursor.isascii():
            raise InvalidCursor
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (binascii.Error, ValueError):
            raise InvalidCursor from None
        if len(raw) != _RAW_LENGTH:
            raise InvalidCursor
        body, mac = raw[:-_MAC_LENGTH], raw[-_MAC_LENGTH:]
        if not hmac.compare_digest(mac, self._mac(body)):
            raise InvalidCursor
        version, processor_id, issued_at = _HEAD.unpack(body[: _HEAD.size])
        if version != VERSION or processor_id != pseudonymiser.processor_id:
            raise InvalidCursor
        age = now.timestamp() - issued_at
        if age < -60 or age > self._ttl:
            raise InvalidCursor
        try:
            subject_id = pseudonymiser.decode(body[_HEAD.size :].decode("ascii"))
        except MalformedPseudonym:
            raise InvalidCursor from None
        if subject_id is None:
            raise InvalidCursor
        return subject_id
