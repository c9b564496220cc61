"""Webhook secrets, and the overlap that lets a receiver follow their rotation.

Vigie signs what it POSTs to a webhook with HMAC-SHA256 over the body
(``X-Vigie-Signature: sha256=HEX``, :func:`vigie.detection.notify.sign`), and accepts a
bearer token on the webhook it receives (``POST /hooks/canary``). Each has its own key,
derived from the instance secret under a purpose of :data:`PURPOSES`. When
``vigie secrets rotate webhook`` starts a new version, the previous one stays active for
``webhook_rotation_overlap_hours``: outgoing bodies carry both signatures,
``sha256=NEW, sha256=OLD``, and the old inbound token is still accepted, so a receiver
switches to the new secret at any time in the window without losing a message.
"""

from __future__ import annotations

import hmac

from vigie.secrets import InstanceSecrets, Secret

PURPOSES = {
    "alert": "alert-webhook",
    "canary": "canary-webhook",
    "siem": "siem-webhook",
}
"""The webhooks, by name, and the purpose their key derives from."""
TOKEN_LENGTH = 24  # bytes of the canary webhook's bearer token


def active_keys(
    secrets: InstanceSecrets, purpose: str, *, now_us: int, overlap_seconds: float, length: int = 32
) -> list[Secret]:
    """The keys of ``purpose`` in use at ``now_us``: the current one, then the previous one
    while the overlap after the last rotation lasts."""
    versions = secrets.all_versions(purpose)
    keys = [Secret(secrets.derive_version(purpose, versions[0], length))]
    if len(versions) > 1 and now_us - versions[0].at_us < overlap_seconds * 1_000_000:
        keys.append(Secret(secrets.derive_version(purpose, versions[1], length)))
    return keys


def token_matches(token: str, keys: list[Secret]) -> bool:
    """Whether ``token`` is the hex form of one of ``keys`` (each compared in constant time)."""
    found = False
    for key in keys:
        found |= hmac.compare_digest(token.encode(), key.reveal().hex().encode())
    return found
