"""Per-processor pseudonyms: how a person is named towards one processor.

A pseudonym is the AES encryption (one 16-byte block) of ``(subject_id, processor_id,
zero tag)`` under a key derived from the instance secret for that processor. So it is

- stable: the same person always has the same pseudonym for the same processor;
- unlinkable: two processors see unrelated strings for the same person;
- not reversible without the instance secret, yet cheap to reverse with it (no table);
- evidence: a pseudonym found in a leaked file decrypts, under exactly one processor's
  key, to a block whose processor id and zero tag match — that names the processor.
  A forged string passes that check with probability 2**-64.

Encoded as 26 lowercase base32 characters without padding.
"""

from __future__ import annotations

import base64
import binascii
import struct
from collections.abc import Iterable
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from vigie.secrets import InstanceSecrets

_BLOCK = struct.Struct(">QII")  # subject_id, processor_id, zero tag
PSEUDONYM_LENGTH = 26


@lru_cache(maxsize=4096)
def _cipher(key: bytes) -> Cipher[modes.ECB]:
    # ECB over a single block is a keyed pseudorandom permutation, which is what we want.
    return Cipher(algorithms.AES(key), modes.ECB())  # noqa: S305


def _key(secrets: InstanceSecrets, processor_id: int) -> bytes:
    return secrets.derive(f"pseudonym:{processor_id}")


class Pseudonymiser:
    """Pseudonyms for one processor; build once per request or batch (key derivation is cached)."""

    def __init__(self, secrets: InstanceSecrets, processor_id: int) -> None:
        self.processor_id = processor_id
        self._cipher = _cipher(_key(secrets, processor_id))

    def encode(self, subject_id: int) -> str:
        """The pseudonym of ``subject_id`` for this processor."""
        enc = self._cipher.encryptor()
        raw = enc.update(_BLOCK.pack(subject_id, self.processor_id, 0)) + enc.finalize()
        return base64.b32encode(raw).decode().rstrip("=").lower()

    def decode(self, pseudonym: str) -> int | None:
        """The subject id behind ``pseudonym`` if it is one of this processor's, else None."""
        if len(pseudonym) != PSEUDONYM_LENGTH:
            return None
        try:
            raw = base64.b32decode(pseudonym.upper() + "======", casefold=False)
        except (binascii.Error, ValueError):
            return None
        if len(raw) != 16:
            return None
        dec = self._cipher.decryptor()
        subject_id, processor_id, tag = _BLOCK.unpack(dec.update(raw) + dec.finalize())
        if processor_id != self.processor_id or tag != 0:
            return None
        return int(subject_id)


def identify(
    secrets: InstanceSecrets, pseudonym: str, processor_ids: Iterable[int]
) -> tuple[int, int] | None:
    """``(processor_id, subject_id)`` for a pseudonym of one of ``processor_ids``, else None."""
    for pid in processor_ids:
        subject_id = Pseudonymiser(secrets, pid).decode(pseudonym)
        if subject_id is not None:
            return pid, subject_id
    return None
