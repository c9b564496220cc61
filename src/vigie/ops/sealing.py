"""Encrypting files in a stream: AES-256-GCM in 1 MiB chunks (the STREAM construction).

Used for backups (:mod:`vigie.ops.backup`) and for leaked files uploaded through the
console (:mod:`vigie.leaks.uploads`).


A sealed file is ``MAGIC | nonce prefix (7 bytes) | chunks``; chunk *i* is encrypted with
the nonce ``prefix | i (4 bytes, big-endian) | last (1 byte)`` and the file's name as
associated data, so chunks cannot be reordered, dropped, truncated at a chunk boundary or
moved to another file name without :func:`open_sealed` raising :class:`IntegrityError`.
Nothing is buffered beyond one chunk: a database dump of any size goes through.

The key comes from :class:`BackupKey`: 32 random bytes in a key file, or a passphrase
stretched with scrypt (n=2^17, r=8, p=1) over a random salt kept in the manifest.
"""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from vigie.errors import ConfigError, IntegrityError
from vigie.secrets import Secret

MAGIC = b"VIGIEBK1"
CHUNK = 1 << 20
_TAG = 16
SCRYPT_N = 1 << 17


@dataclass(frozen=True)
class BackupKey:
    """The key that seals one backup, derived per backup from a key file or a passphrase."""

    root: Secret

    @classmethod
    def from_key_file(cls, path: Path) -> BackupKey:
        """32 bytes, raw or base64 (``openssl rand -base64 32``), in a private file."""
        if not path.is_file():
            raise ConfigError(f"backup key file {path} does not exist")
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            raise ConfigError(f"backup key file {path} is readable by others; chmod 600 it")
        data = path.read_bytes()  # raw bytes may start or end with what looks like a blank
        if len(data) != 32:
            try:
                data = base64.b64decode(data.strip(), validate=True)
            except ValueError:
                data = b""
        if len(data) != 32:
            raise ConfigError(f"backup key file {path} must hold 32 bytes (raw or base64)")
        return cls(root=Secret(data))

    @classmethod
    def from_passphrase(cls, passphrase: str, *, salt: bytes) -> BackupKey:
        """Stretch ``passphrase`` with scrypt over ``salt`` (kept in the manifest)."""
        if len(passphrase) < 12:
            raise ConfigError("the backup passphrase must be at least 12 characters")
        kdf = Scrypt(salt=salt, length=32, n=SCRYPT_N, r=8, p=1)
        return cls(root=Secret(kdf.derive(passphrase.encode())))

    def for_backup(self, backup_id: str, purpose: str) -> bytes:
        """A key of one backup for one purpose (``files``, ``manifest``): a key file seals
        many backups, each under its own keys."""
        info = f"vigie-backup:{backup_id}:{purpose}".encode()
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
            self.root.reveal()
        )


class Sealer:
    """Seal bytes pushed in pieces of any size (an upload as it arrives) into ``target``.

    Holds at most one chunk: a full chunk is written only once a byte of the next one is
    known (the last chunk's nonce says it is last). :meth:`close` writes the last chunk;
    a sealer never closed leaves a file that does not open (truncated).
    """

    def __init__(self, target: BinaryIO, *, key: bytes, name: str) -> None:
        self._aead = AESGCM(key)
        self._target = target
        self._name = name.encode()
        self._prefix = os.urandom(7)
        self._index = 0
        self._pending = bytearray()
        self.total = 0
        target.write(MAGIC + self._prefix)

    def write(self, data: bytes) -> None:
        """Take ``data``; write every chunk that is known not to be the last."""
        self._pending += data
        self.total += len(data)
        while len(self._pending) > CHUNK:
            self._emit(bytes(self._pending[:CHUNK]), last=False)
            del self._pending[:CHUNK]

    def close(self) -> int:
        """Write the last chunk (maybe empty); return the plain bytes sealed."""
        self._emit(bytes(self._pending), last=True)
        self._pending.clear()
        return self.total

    def _emit(self, chunk: bytes, *, last: bool) -> None:
        nonce = _nonce(self._prefix, self._index, last)
        self._target.write(self._aead.encrypt(nonce, chunk, self._name))
        self._index += 1


def seal(
    source: BinaryIO,
    target: BinaryIO,
    *,
    key: bytes,
    name: str,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Encrypt ``source`` into ``target`` under ``key``, bound to ``name``; return plain bytes."""
    sealer = Sealer(target, key=key, name=name)
    while chunk := source.read(CHUNK):
        sealer.write(chunk)
        if progress is not None:
            progress(len(chunk))
    return sealer.close()


def open_sealed(source: BinaryIO, *, key: bytes, name: str) -> Iterator[bytes]:
    """Yield the plain chunks of a sealed file; raise ``IntegrityError`` on any change."""
    aead = AESGCM(key)
    head = source.read(len(MAGIC) + 7)
    if head[: len(MAGIC)] != MAGIC:
        raise IntegrityError(f"{name} is not a sealed Vigie backup file")
    prefix = head[len(MAGIC) :]
    index = 0
    block = source.read(CHUNK + _TAG)
    while True:
        following = source.read(CHUNK + _TAG) if len(block) == CHUNK + _TAG else b""
        last = not following
        try:
            yield aead.decrypt(_nonce(prefix, index, last), block, name.encode())
        except InvalidTag as exc:
            raise IntegrityError(
                f"{name} does not decrypt: wrong backup key or passphrase, or the file changed"
            ) from exc
        if last:
            return
        block, index = following, index + 1


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")
