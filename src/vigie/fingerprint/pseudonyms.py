"""Per-processor pseudonyms: how a person is named towards one processor.

A pseudonym is the AES encryption (one 16-byte block) of ``(subject_id, processor_id,
zero tag)`` under a key derived from the instance secret for that processor. So it is

- stable: the same person always has the same pseudonym for the same processor;
- unlinkable: two processors see unrelated strings for the same person;
- not reversible without the instance secret, yet cheap to reverse with it (no table);
- evidence: a pseudonym found in a leaked file decrypts, under exactly one processor's
  key, to a block whose processor id and zero tag match — that names the processor.
  A forged string passes that check with probability 2**-64.

Encoded as 26 lowercase base32 characters without padding, and only so: the block's 128
bits and two zero bits. Base32 decoders also read upper case, and ignore the two last
bits, so five spellings (and their mixes of case) would name the same person; only the
one this module writes is accepted, others raise :class:`MalformedPseudonym`. A check of
the spelling alone, knowable without any key, so it tells nothing about anyone.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterable
from functools import lru_cache

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

from vigie.errors import InvalidInput
from vigie.secrets import InstanceSecrets, KeyVersion

_BLOCK = struct.Struct(">QII")  # subject_id, processor_id, zero tag
PSEUDONYM_LENGTH = 26
# Base32 of one 16-byte block, lower case, unpadded: the block's 128 bits and two zero
# bits make 26 characters, read ten bits (two characters) at a time. The same string as
# ``base64.b32encode(block).decode().rstrip("=").lower()``, in a third of the time.
_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]
_SHIFTS = tuple(range(120, -1, -10))
_VALUE = {c: i for i, c in enumerate(_ALPHABET)}
_LAST = frozenset(c for c in _ALPHABET if _VALUE[c] & 3 == 0)  # the two pad bits are zero
_AS_DIGITS = str.maketrans(_ALPHABET, "0123456789abcdefghijklmnopqrstuv")
# The same, for a page of blocks at once (numpy): each block's 128 bits and two zero bits
# cut into 26 groups of five, each group looked up in the alphabet.
_BLOCKS = np.dtype([("subject_id", ">u8"), ("processor_id", ">u4"), ("tag", ">u4")])
_ALPHABET_BYTES = np.frombuffer(_ALPHABET.encode("ascii"), dtype=np.uint8)
_FIVE_BITS = np.array([16, 8, 4, 2, 1], dtype=np.uint8)
SPELLING = "26 characters of a-z and 2-7, lower case, the last one of a, e, i, m, q, u, y, 4"


class MalformedPseudonym(InvalidInput):
    """A string that is not spelt as a pseudonym is (whoever it might name)."""

    def __init__(self) -> None:
        super().__init__(f"a pseudonym is {SPELLING}, exactly as this API gave it")


def _b32(block: bytes) -> str:
    n = int.from_bytes(block, "big") << 2
    return "".join([_PAIRS[(n >> s) & 1023] for s in _SHIFTS])


def _b32_many(blocks: bytes) -> list[str]:
    """:func:`_b32` of each 16-byte block of ``blocks``, in a few array operations."""
    n = len(blocks) // 16
    bits = np.zeros((n, PSEUDONYM_LENGTH * 5), dtype=np.uint8)
    bits[:, :128] = np.unpackbits(np.frombuffer(blocks, dtype=np.uint8).reshape(n, 16), axis=1)
    groups = bits.reshape(n, PSEUDONYM_LENGTH, 5) @ _FIVE_BITS
    text = _ALPHABET_BYTES[groups].tobytes().decode("ascii")
    size = PSEUDONYM_LENGTH
    return [text[i : i + size] for i in range(0, n * size, size)]


@lru_cache(maxsize=4096)
def _cipher(key: bytes) -> Cipher[modes.ECB]:
    # ECB over a single block is a keyed pseudorandom permutation, which is what we want.
    return Cipher(algorithms.AES(key), modes.ECB())  # noqa: S305


def parse(pseudonym: str) -> bytes:
    """The 16-byte block ``pseudonym`` spells; :class:`MalformedPseudonym` unless canonical."""
    # ``strip`` leaves nothing of a string made of the alphabet only (and something of any
    # other); the alphabet then maps onto the digits of ``int``'s base 32: no Python loop.
    if (
        len(pseudonym) != PSEUDONYM_LENGTH
        or pseudonym[-1] not in _LAST
        or pseudonym.strip(_ALPHABET)
    ):
        raise MalformedPseudonym
    return (int(pseudonym.translate(_AS_DIGITS), 32) >> 2).to_bytes(16, "big")


def purpose(processor_id: int) -> str:
    """The purpose a processor's pseudonym key derives from (rotated per processor)."""
    return f"pseudonym:{processor_id}"


class Pseudonymiser:
    """Pseudonyms for one processor; build once per request or batch (key derivation is cached).

    ``version`` picks a version of the processor's key (see :mod:`vigie.secrets`); the
    default, the current one, is the only one the gateway speaks. Older versions serve
    the mapping a rotation hands out and the attribution of leaks made before it.
    """

    def __init__(
        self, secrets: InstanceSecrets, processor_id: int, *, version: KeyVersion | None = None
    ) -> None:
        self.processor_id = processor_id
        chosen = version or secrets.current(purpose(processor_id))
        self.version = chosen.version
        self._cipher = _cipher(secrets.derive_version(purpose(processor_id), chosen))
        self._contexts = threading.local()

    @classmethod
    def every_version(cls, secrets: InstanceSecrets, processor_id: int) -> list[Pseudonymiser]:
        """One per version of the processor's key, newest first: what attribution tries."""
        return [
            cls(secrets, processor_id, version=v)
            for v in secrets.all_versions(purpose(processor_id))
        ]

    def _decryptor(self) -> CipherContext:
        """This thread's decryption context, kept: ECB deciphers each block on its own, so
        one context serves every pseudonym (never finalised); making one costs more than
        deciphering. One per thread: a context is not to be shared between threads."""
        found: CipherContext | None = getattr(self._contexts, "decryptor", None)
        if found is None:
            found = self._contexts.decryptor = self._cipher.decryptor()
        return found

    def encode(self, subject_id: int) -> str:
        """The pseudonym of ``subject_id`` for this processor."""
        enc = self._cipher.encryptor()
        return _b32(enc.update(_BLOCK.pack(subject_id, self.processor_id, 0)) + enc.finalize())

    def encode_many(self, subject_ids: Iterable[int]) -> list[str]:
        """The pseudonyms of ``subject_ids``, in order: one cipher pass for them all.

        ECB encrypts each block on its own, so this is :meth:`encode` of each id; the
        blocks are packed and spelt as arrays (a page's hundred pseudonyms cost about a
        fifth of spelling them one by one).
        """
        ids = np.fromiter(subject_ids, dtype=np.uint64)
        if not len(ids):
            return []
        blocks = np.zeros(len(ids), dtype=_BLOCKS)
        blocks["subject_id"] = ids
        blocks["processor_id"] = self.processor_id
        enc = self._cipher.encryptor()
        return _b32_many(enc.update(blocks.tobytes()) + enc.finalize())

    def decode(self, pseudonym: str) -> int | None:
        """The subject id behind ``pseudonym`` if it is one of this processor's, else None.

        Raises :class:`MalformedPseudonym` if ``pseudonym`` is not spelt as one (see
        :func:`parse`).
        """
        subject_id, processor_id, tag = _BLOCK.unpack(self._decryptor().update(parse(pseudonym)))
        if processor_id != self.processor_id or tag != 0:
            return None
        return int(subject_id)


def identify(
    secrets: InstanceSecrets, pseudonym: str, processor_ids: Iterable[int]
) -> tuple[int, int] | None:
    """``(processor_id, subject_id)`` for a pseudonym of one of ``processor_ids``, else None.

    Raises :class:`MalformedPseudonym` if ``pseudonym`` is not spelt as one.
    """
    for pid in processor_ids:
        for pseudonymiser in Pseudonymiser.every_version(secrets, pid):
            subject_id = pseudonymiser.decode(pseudonym)
            if subject_id is not None:
                return pid, subject_id
    return None
