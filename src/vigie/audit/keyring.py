"""The audit key history: every key that ever signed checkpoints, and when.

Rotating the audit signing key must not invalidate a single checkpoint signed before.
So the instance keeps ``audit-keys.json`` beside its key (and every export carries it):
the public keys oldest first, each with the period (microseconds, inclusive) its
checkpoints may bear, and each rotation signed by both the retiring and the new key
(:func:`vigie.audit.offline.check_key_history` is the one definition of the check, shared
with the standalone verifier). A checkpoint verifies with the key whose fingerprint it
records, and only if its time falls in that key's period: a retired key, stolen later,
cannot sign a checkpoint that verifies.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from vigie.audit import offline
from vigie.errors import ConfigError, IntegrityError

FORMAT = "vigie-audit-keys/v1"
FILE = offline.KEY_HISTORY


def _pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


@dataclass(frozen=True)
class KeyHistory:
    """The checked history of the audit keys; the last one is the current key."""

    document: dict[str, Any]
    periods: tuple[offline.KeyPeriod, ...]

    @classmethod
    def single(cls, key: Ed25519PublicKey) -> KeyHistory:
        """The history of an instance whose key was never rotated."""
        entry = {"fingerprint": offline.fingerprint(key), "public_key": _pem(key),
                 "from_us": None, "until_us": None}  # fmt: skip
        return cls.parse({"format": FORMAT, "keys": [entry], "rotations": []})

    @classmethod
    def parse(cls, document: Any) -> KeyHistory:
        """A history from its JSON form; :class:`IntegrityError` unless every rotation checks."""
        try:
            periods = offline.check_key_history(document)
        except offline.Failure as exc:
            raise IntegrityError(str(exc)) from None
        return cls(document=document, periods=tuple(periods))

    @classmethod
    def load(cls, directory: Path, current: Ed25519PublicKey) -> KeyHistory:
        """The history in the secrets ``directory``, which must end with ``current``."""
        path = directory / FILE
        if not path.exists():
            return cls.single(current)
        try:
            history = cls.parse(orjson.loads(path.read_bytes()))
        except (orjson.JSONDecodeError, IntegrityError) as exc:
            raise ConfigError(f"{path}: {exc}") from None
        if history.current != offline.fingerprint(current):
            raise ConfigError(f"{path}: its last key is not the signing key in {directory}")
        return history

    @property
    def current(self) -> str:
        """The fingerprint of the key that signs checkpoints now."""
        return self.periods[-1].fingerprint

    @property
    def fingerprints(self) -> list[str]:
        """Every key's fingerprint, oldest first."""
        return [p.fingerprint for p in self.periods]

    def key_of(self, *, fingerprint: str, at_us: int, name: str) -> Ed25519PublicKey:
        """The key ``fingerprint`` if it could sign at ``at_us``; else IntegrityError."""
        for period in self.periods:
            if period.fingerprint != fingerprint:
                continue
            if not period.covers(at_us):
                raise IntegrityError(
                    f"{name}: signed by key {fingerprint[:16]}… outside its period "
                    "(a retired key cannot sign new checkpoints)"
                )
            return period.key
        raise IntegrityError(f"{name}: signed by another key ({fingerprint[:16]}…)")

    def keys_at(self, at_us: int) -> list[Ed25519PublicKey]:
        """The keys that could have signed at ``at_us`` (two at a rotation's instant)."""
        return [p.key for p in self.periods if p.covers(at_us)]

    def rotated(
        self, *, old: Ed25519PrivateKey, new: Ed25519PrivateKey, at_us: int
    ) -> tuple[KeyHistory, dict[str, Any]]:
        """The history after rotating from ``old`` (the current key) to ``new`` at ``at_us``,
        and the rotation record (both signatures), as the trail records it."""
        old_fp = offline.fingerprint(old.public_key())
        new_fp = offline.fingerprint(new.public_key())
        if old_fp != self.current:
            raise ConfigError("the key to retire is not the current audit key")
        text = offline.rotation_message(old_fp, new_fp, at_us)
        rotation = {
            "old": old_fp,
            "new": new_fp,
            "at_us": at_us,
            "old_signature": old.sign(text).hex(),
            "new_signature": new.sign(text).hex(),
        }
        keys = [dict(k) for k in self.document["keys"]]
        keys[-1]["until_us"] = at_us
        keys.append({"fingerprint": new_fp, "public_key": _pem(new.public_key()),
                     "from_us": at_us, "until_us": None})  # fmt: skip
        document = {"format": FORMAT, "keys": keys,
                    "rotations": [*self.document["rotations"], rotation]}  # fmt: skip
        return KeyHistory.parse(document), rotation

    def to_json(self) -> bytes:
        """The history as written to ``audit-keys.json``."""
        return orjson.dumps(self.document, option=orjson.OPT_INDENT_2) + b"\n"


AuditKeys = Ed25519PublicKey | KeyHistory
"""What verification checks checkpoints against: one key, or the history of every key."""
