"""The audit signing key as a recipient knows it: its fingerprint and public PEM.

An export or a proof is only as trustworthy as the key it is checked against, and the
key an export carries cannot vouch for itself (a forger re-signs with their own). So
Vigie shows the fingerprint where a recipient learns it independently of any export
(the notification to the authority, ``vigie audit key``), and the standalone verifier
(:mod:`vigie.audit.offline`) refuses to run without it.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from vigie.audit.checkpoints import fingerprint

WHERE_TO_PUBLISH = (
    "Publish the fingerprint where recipients learn it independently of any export: it is "
    "in every notification pack for the authority (`vigie incident authority-pack`); also "
    "give it on paper or by another channel to auditors and courts, and on the controller's "
    "website. (The public service will show it too once it exists: issue 15.)"
)


@dataclass(frozen=True)
class AuditKey:
    """The public identity of the instance's audit signing key."""

    fingerprint: str
    """SHA-256 (hex) of the raw 32-byte Ed25519 public key."""
    pem: str
    """The public key, SubjectPublicKeyInfo PEM."""

    @classmethod
    def of(cls, public_key: Ed25519PublicKey) -> AuditKey:
        pem = public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return cls(fingerprint=fingerprint(public_key), pem=pem.decode("ascii"))

    def verify_command(self, directory: Path) -> str:
        """The exact command a recipient runs on an export written to ``directory``."""
        script = shlex.quote(str(directory / "verify_trail.py"))
        return f"python {script} {shlex.quote(str(directory))} --fingerprint {self.fingerprint}"
