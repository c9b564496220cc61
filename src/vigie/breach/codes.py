"""Verification codes: a short code on each notice that tells it from a phishing copy.

The code is an HMAC of (incident, person) under a key derived from the instance secret
(``notice-code``, in its current version), cut to 40 bits and written in Crockford's
base 32 as ``XXXX-XXXX``:
eight characters without I, L, O or U, so it is easy to read out and type. Only the
controller can compute it; :func:`verify_code` checks one in constant time and forgives
case, spaces, dashes and the usual confusions (O→0, I/L→1).
"""

from __future__ import annotations

import hashlib
import hmac

from vigie.errors import Denied
from vigie.secrets import InstanceSecrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_BITS = 40
_CONFUSIONS = str.maketrans({"O": "0", "I": "1", "L": "1"})


PURPOSE = "notice-code"
"""The purpose the code key derives from; rotated by ``vigie secrets rotate notice-codes``."""


def code_key(secrets: InstanceSecrets) -> bytes:
    """The current key of the notice codes, derived from the instance secret."""
    return secrets.derive(PURPOSE)


def make_code(key: bytes, *, incident_id: int, subject_id: int) -> str:
    """The verification code of one person's notice for one incident."""
    mac = hmac.new(key, f"{incident_id}:{subject_id}".encode(), hashlib.sha256).digest()
    value = int.from_bytes(mac[:5], "big")
    chars = [ALPHABET[(value >> shift) & 31] for shift in range(CODE_BITS - 5, -1, -5)]
    return "".join(chars[:4]) + "-" + "".join(chars[4:])


def normalise(code: str) -> str:
    """A typed code in canonical form (``XXXX-XXXX``), or ``""`` if it cannot be one."""
    text = "".join(c for c in code.upper() if c.isalnum()).translate(_CONFUSIONS)
    if len(text) != 8 or any(c not in ALPHABET for c in text):
        return ""
    return text[:4] + "-" + text[4:]


def verify_code(secrets: InstanceSecrets, *, incident_id: int, subject_id: int, code: str) -> None:
    """Check a notice's code; raise :class:`Denied` when it is not the genuine one.

    Every version of the code key is tried (``vigie secrets rotate notice-codes`` starts a
    new one; notices sent before keep theirs), each compared in constant time.
    """
    typed = normalise(code).encode()
    found = False
    for version in secrets.all_versions(PURPOSE):
        key = secrets.derive_version(PURPOSE, version)
        expected = make_code(key, incident_id=incident_id, subject_id=subject_id)
        found |= hmac.compare_digest(typed, expected.encode())
    if not found:
        raise Denied("this verification code does not match a notice sent by the controller")


def tag_key(secrets: InstanceSecrets) -> bytes:
    """The key of the code tags (the look-up index of codes), derived from the instance secret."""
    return secrets.derive("notice-code-tag")


def code_tag(key: bytes, code: str) -> str:
    """The look-up tag of a code as typed: a keyed hash of its canonical form.

    The delivery log stores the tag, never the code: a copy of the database does not give
    a phisher genuine codes to print. A string that cannot be a code gets the tag of what
    was typed, which no notice bears, so every wrong code costs the same look-up.
    """
    canonical = normalise(code) or "!" + code[:64]
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()[:32]
