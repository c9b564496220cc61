"""Instance secrets: created once by ``vigie init``, kept out of the database, mode 0600.

- ``instance.key``: 32 random bytes from which per-purpose keys are derived (pseudonyms,
  notice verification codes, encryption of stored leak files) with HKDF.
- ``audit-signing.pem``: the Ed25519 private key that signs audit checkpoints;
  ``audit-signing.pub.pem`` is its public half, safe to hand to a regulator.

Secrets are wrapped in :class:`Secret`, which prints as ``'**********'`` so a key never
reaches a log or a traceback by accident.
"""

from __future__ import annotations

import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from vigie.errors import ConfigError

INSTANCE_KEY = "instance.key"
SIGNING_KEY = "audit-signing.pem"
SIGNING_PUB = "audit-signing.pub.pem"


class Secret:
    """Bytes that never show themselves in ``repr``/``str``."""

    __slots__ = ("_value",)

    def __init__(self, value: bytes) -> None:
        self._value = value

    def reveal(self) -> bytes:
        """The secret bytes; call only where they are used."""
        return self._value

    def __repr__(self) -> str:
        return "'**********'"

    __str__ = __repr__


@dataclass(frozen=True)
class InstanceSecrets:
    """The secrets of one Vigie instance, loaded from the secrets directory."""

    master: Secret
    signing_key: Ed25519PrivateKey
    _derived: dict[tuple[str, int], bytes] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def derive(self, purpose: str, length: int = 32) -> bytes:
        """A key for one purpose (e.g. ``"pseudonym:7"``), derived from the master key.

        Derived once per purpose and kept with the secrets (request paths derive the same
        few keys on every request: an HKDF each time was a measurable share of them)."""
        key = (purpose, length)
        found = self._derived.get(key)
        if found is None:
            found = self._derived[key] = HKDF(
                algorithm=hashes.SHA256(), length=length, salt=None, info=purpose.encode()
            ).derive(self.master.reveal())
        return found

    @property
    def verify_key(self) -> Ed25519PublicKey:
        """The public half of the audit signing key."""
        return self.signing_key.public_key()


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def ensure_secrets(directory: Path) -> list[str]:
    """Create any missing secret in ``directory`` (0700, files 0600); return what was created.

    Existing secrets are never overwritten: losing the instance key would make every
    pseudonym handed out so far unreadable.
    """
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    created: list[str] = []
    if not (directory / INSTANCE_KEY).exists():
        _write_private(directory / INSTANCE_KEY, secrets.token_bytes(32))
        created.append(INSTANCE_KEY)
    if not (directory / SIGNING_KEY).exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_private(directory / SIGNING_KEY, pem)
        pub = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        (directory / SIGNING_PUB).write_bytes(pub)
        created.append(SIGNING_KEY)
    return created


def load_secrets(directory: Path) -> InstanceSecrets:
    """Load the instance secrets; refuse missing or world-readable files."""
    paths = [directory / INSTANCE_KEY, directory / SIGNING_KEY]
    for path in paths:
        if not path.exists():
            raise ConfigError(f"missing instance secret {path}; run `vigie init`")
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            raise ConfigError(f"instance secret {path} is readable by others; chmod 600 it")
    master = (directory / INSTANCE_KEY).read_bytes()
    if len(master) != 32:
        raise ConfigError(f"instance secret {paths[0]} is not 32 bytes")
    key = serialization.load_pem_private_key((directory / SIGNING_KEY).read_bytes(), None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{paths[1]} is not an Ed25519 key")
    return InstanceSecrets(master=Secret(master), signing_key=key)
