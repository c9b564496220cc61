"""The manifest of a backup: what it holds, each sealed file's SHA-256, and how to get the key.

``manifest.json`` is clear text (no secret, no personal data: file names, sizes, hashes,
the scrypt salt) so an operator can read what a backup holds without its key;
``manifest.tag`` is an HMAC-SHA256 of it under a key of the backup, so a changed manifest
(a file dropped from the list, a hash replaced) is refused once the key is given.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vigie.errors import IntegrityError, InvalidInput

MANIFEST = "manifest.json"
TAG = "manifest.tag"
FORMAT = 1


@dataclass(frozen=True)
class Entry:
    """One sealed file: ``kind`` is ``store``, ``secret`` or ``outbox``; ``path`` is where
    it goes back, relative to its kind's directory."""

    name: str
    kind: str
    path: str
    mode: int
    plain_bytes: int
    sha256: str


@dataclass
class Manifest:
    """What ``vigie backup`` wrote; ``kdf`` is ``{"kind": "key-file"}`` or scrypt's salt."""

    backup_id: str
    created_at: str
    vigie_version: str
    dialect: str
    revision: str
    kdf: dict[str, Any]
    entries: list[Entry] = field(default_factory=list)
    format: int = FORMAT

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), indent=2, sort_keys=True).encode() + b"\n"

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        path = directory / MANIFEST
        if not path.is_file():
            raise InvalidInput(f"{directory} is not a Vigie backup: no {MANIFEST}")
        data = json.loads(path.read_bytes())
        if data.get("format") != FORMAT:
            raise InvalidInput(f"backup format {data.get('format')} is not {FORMAT}")
        entries = [Entry(**e) for e in data.pop("entries")]
        return cls(**data, entries=entries)

    def write(self, directory: Path, *, mac_key: bytes) -> None:
        body = self.to_bytes()
        (directory / MANIFEST).write_bytes(body)
        (directory / TAG).write_text(hmac.new(mac_key, body, hashlib.sha256).hexdigest() + "\n")

    def authenticate(self, directory: Path, *, mac_key: bytes) -> None:
        """Raise ``IntegrityError`` unless the manifest on disk carries a valid tag."""
        body = (directory / MANIFEST).read_bytes()
        tag = (directory / TAG).read_text().strip() if (directory / TAG).is_file() else ""
        if not hmac.compare_digest(tag, hmac.new(mac_key, body, hashlib.sha256).hexdigest()):
            raise IntegrityError(
                "the backup manifest does not authenticate: wrong key or passphrase, or the "
                "manifest was changed"
            )

    def check_files(self, directory: Path) -> None:
        """Raise ``IntegrityError`` unless every listed file is there with its SHA-256."""
        for entry in self.entries:
            path = directory / entry.name
            if not path.is_file():
                raise IntegrityError(f"the backup lacks {entry.name}")
            if sha256_file(path) != entry.sha256:
                raise IntegrityError(f"{entry.name} does not match its SHA-256 in the manifest")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
