"""Security keys and passkeys (WebAuthn) as an operator's second factor.

An operator enrols a key at first sign-in instead of TOTP, or later beside it, and signs
in with it after the password. py_webauthn checks every answer of the authenticator: the
challenge (made here, kept on the browser's session row, good once), the origin and the
relying party (:class:`RelyingParty`, from ``console_url``), the signature, and the
signature counter (a counter that goes backwards means a cloned key). Each check raises
:class:`~vigie.console.auth.SignInRefused`; enrolment and removal are audited
(``operator:enrol`` with ``factor: webauthn``, ``operator:key-remove``), never with the
key's material.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from vigie.audit import trail
from vigie.audit.actions import Action
from vigie.console.auth import ISSUER, SignInRefused
from vigie.console.models import Operator, OperatorSession, SecurityKey
from vigie.errors import InvalidInput, NotFound

MAX_NAME = 64
MAX_KEYS = 10


@dataclass(frozen=True)
class RelyingParty:
    """Who the keys are made for: the console's origin and its host (the RP id)."""

    origin: str
    id: str

    @classmethod
    def of(cls, url: str) -> RelyingParty:
        """The relying party at ``url`` (``console_url``, or the request's own base URL)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInput(f"the console's URL {url!r} is not http(s)://HOST")
        return cls(origin=f"{parts.scheme}://{parts.netloc}", id=parts.hostname)


@dataclass(frozen=True)
class KeySummary:
    """One security key as the account page lists it."""

    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None


def _challenge(row: OperatorSession) -> bytes:
    """The challenge handed to this browser, taken once (a second use finds none)."""
    if row.challenge is None:
        raise SignInRefused("sign-in refused")
    challenge = base64url_to_bytes(row.challenge)
    row.challenge = None
    return challenge


def keys_of(session: Session, *, operator_id: int) -> list[SecurityKey]:
    """The operator's security keys, oldest first."""
    return list(
        session.scalars(
            select(SecurityKey)
            .where(SecurityKey.operator_id == operator_id)
            .order_by(SecurityKey.id)
        )
    )


def count_keys(session: Session, *, operator_id: int) -> int:
    return int(
        session.scalar(select(func.count()).where(SecurityKey.operator_id == operator_id)) or 0
    )


def list_keys(session: Session, *, operator_id: int) -> list[KeySummary]:
    return [
        KeySummary(id=k.id, name=k.name, created_at=k.created_at, last_used_at=k.last_used_at)
        for k in keys_of(session, operator_id=operator_id)
    ]


def registration_options(
    session: Session, *, operator: Operator, row: OperatorSession, rp: RelyingParty
) -> str:
    """The options (JSON) for ``navigator.credentials.create``; the challenge kept on ``row``."""
    existing = keys_of(session, operator_id=operator.id)
    if len(existing) >= MAX_KEYS:
        raise InvalidInput(f"at most {MAX_KEYS} security keys per operator")
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=ISSUER,
        user_id=f"vigie-operator-{operator.id}".encode(),
        user_name=operator.login,
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(k.credential_id)) for k in existing
        ],
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
    )
    row.challenge = bytes_to_base64url(options.challenge)
    session.flush()
    return options_to_json(options)


def enrol_key(
    session: Session,
    *,
    operator: Operator,
    row: OperatorSession,
    rp: RelyingParty,
    credential: str,
    name: str,
    now: datetime,
) -> SecurityKey:
    """Check the authenticator's answer to :func:`registration_options` and keep the key.

    Audited as ``operator:enrol`` (factor ``webauthn``, the key's name). Raises
    :class:`SignInRefused` if the answer does not verify.
    """
    name = " ".join(name.split())[:MAX_NAME] or "security key"
    challenge = _challenge(row)
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError):
        raise SignInRefused("the security key's answer did not verify") from None
    credential_id = bytes_to_base64url(verified.credential_id)
    taken = session.scalar(select(SecurityKey.id).where(SecurityKey.credential_id == credential_id))
    if taken is not None:
        raise SignInRefused("this security key is already enrolled")
    key = SecurityKey(
        operator_id=operator.id,
        credential_id=credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        name=name,
        created_at=now,
    )
    session.add(key)
    session.flush()
    trail.append(
        session,
        action=Action.OPERATOR_ENROL,
        actor=f"operator:{operator.login}",
        detail={"login": operator.login, "factor": "webauthn", "key": name},
    )
    return key


def authentication_options(
    session: Session, *, operator: Operator, row: OperatorSession, rp: RelyingParty
) -> str:
    """The options (JSON) for ``navigator.credentials.get`` over the operator's keys."""
    keys = keys_of(session, operator_id=operator.id)
    if not keys:
        raise InvalidInput("no security key is enrolled")
    options = generate_authentication_options(
        rp_id=rp.id,
        allow_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(k.credential_id)) for k in keys
        ],
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    row.challenge = bytes_to_base64url(options.challenge)
    session.flush()
    return options_to_json(options)


def _credential_id(credential: str) -> str:
    try:
        raw = json.loads(credential)["rawId"]
        return bytes_to_base64url(base64url_to_bytes(str(raw)))
    except (ValueError, KeyError, TypeError):
        raise SignInRefused("sign-in refused") from None


def check_assertion(
    session: Session,
    *,
    operator: Operator,
    row: OperatorSession,
    rp: RelyingParty,
    credential: str,
    now: datetime,
) -> None:
    """Raise :class:`SignInRefused` unless ``credential`` is a fresh signature by one of
    the operator's keys over the challenge of :func:`authentication_options`."""
    challenge = _challenge(row)
    key = session.scalar(
        select(SecurityKey).where(
            SecurityKey.operator_id == operator.id,
            SecurityKey.credential_id == _credential_id(credential),
        )
    )
    if key is None:
        raise SignInRefused("sign-in refused")
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=key.public_key,
            credential_current_sign_count=key.sign_count,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError):
        raise SignInRefused("sign-in refused") from None
    key.sign_count = verified.new_sign_count
    key.last_used_at = now


def remove_key(
    session: Session, *, operator: Operator, key_id: int, actor: str, totp: bool
) -> None:
    """Remove one of the operator's keys (audited), unless it is their only second factor."""
    key = session.get(SecurityKey, key_id)
    if key is None or key.operator_id != operator.id:
        raise NotFound("no such security key")
    if not totp and count_keys(session, operator_id=operator.id) <= 1:
        raise InvalidInput("this is your only second factor: enrol another one first")
    session.delete(key)
    trail.append(
        session,
        action=Action.OPERATOR_KEY_REMOVE,
        actor=actor,
        detail={"login": operator.login, "key": key.name},
    )


def forget_keys(session: Session, *, operator_id: int) -> int:
    """Delete every key of the operator (``vigie operators reset-2fa``); how many."""
    keys = keys_of(session, operator_id=operator_id)
    for key in keys:
        session.delete(key)
    return len(keys)
