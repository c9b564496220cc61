"""A contact as a person types it: an e-mail address or a phone number, normalised.

The registry keeps e-mail addresses as given and phone numbers in E.164; a typed
contact is brought to the same form so the look-up finds it. A contact is never logged
nor stored: the rate limiter and ``public_messages`` know it only by
:func:`contact_tag`, a keyed hash.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

import phonenumbers

from vigie.errors import InvalidInput
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
