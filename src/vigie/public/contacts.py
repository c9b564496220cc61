"""A contact as a person types it: an e-mail address or a phone number, normalised.

The registry keeps e-mail addresses as given and phone numbers in E.164; a typed
contact is brought to the same form so the look-up finds it. A contact is never logged
nor stored in clear: the rate limiter and ``public_messages`` know it only by
:func:`contact_tag`, a keyed hash, and a queued request carries it sealed
(:func:`seal_contact`, AES-GCM under a key derived from the instance secret).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vigie.errors import IntegrityError, InvalidInput
from vigie.secrets import InstanceSecrets

MAX_LENGTH = 254
DEFAULT_REGION = "FR"
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,63}$")


@dataclass(frozen=True)
class Contact:
    """A normalised contact: ``channel`` is ``email`` or ``sms``."""

    channel: str
    value: str

    def __repr__(self) -> str:
        return f"Contact({self.channel}, ***)"


def parse_contact(text: str) -> Contact:
    """The contact ``text`` names; :class:`InvalidInput` when it is neither kind."""
    value = text.strip()
    if not value or len(value) > MAX_LENGTH:
        raise InvalidInput("enter an e-mail address or a phone number")
    if "@" in value:
        if not _EMAIL.match(value):
            raise InvalidInput("enter an e-mail address or a phone number")
        local, _, domain = value.rpartition("@")
        return Contact("email", f"{local}@{domain.lower()}")
    try:
        number = phonenumbers.parse(value, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        raise InvalidInput("enter an e-mail address or a phone number") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidInput("enter an e-mail address or a phone number")
    return Contact("sms", phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def contact_key(secrets: InstanceSecrets) -> bytes:
    """The key of the contact tags, derived from the instance secret."""
    return secrets.derive("public-contact")


def contact_tag(key: bytes, contact: Contact) -> str:
    """A keyed hash of ``contact``: what the limiter and the message log know of it."""
    data = f"{contact.channel}:{contact.value.lower()}".encode()
    return hmac.new(key, data, hashlib.sha256).hexdigest()[:32]


_SEAL_AAD = b"vigie public contact v1"
SEAL_PURPOSE = "public-contact-seal"
"""The key that seals a contact in a queued job's parameters (rotated with instance.key)."""


@lru_cache(maxsize=8)
def _cipher(key: bytes) -> AESGCM:
    """The AES-GCM of ``key``, built once per key (the seal is on every request's path)."""
    return AESGCM(key)


def seal_contact(secrets: InstanceSecrets, contact: Contact) -> str:
    """``contact`` encrypted for a queued job's parameters (URL-safe text)."""
    nonce = os.urandom(12)
    plain = f"{contact.channel}:{contact.value}".encode()
    sealed = _cipher(secrets.derive(SEAL_PURPOSE)).encrypt(nonce, plain, _SEAL_AAD)
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def open_contact(secrets: InstanceSecrets, sealed: str) -> Contact:
    """The contact :func:`seal_contact` sealed; :class:`IntegrityError` if it was altered."""
    try:
        data = base64.urlsafe_b64decode(sealed.encode())
    except ValueError as exc:
        raise IntegrityError("a queued contact does not decrypt") from exc
    for version in secrets.all_versions(SEAL_PURPOSE):  # newest first: a rotation adds one
        try:
            plain = AESGCM(secrets.derive_version(SEAL_PURPOSE, version)).decrypt(
                data[:12], data[12:], _SEAL_AAD
            )
            break
        except (InvalidTag, ValueError):
            continue
    else:
        raise IntegrityError("a queued contact does not decrypt")
    channel, _, value = plain.decode().partition(":")
    return Contact(channel, value)
