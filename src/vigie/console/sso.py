"""Single sign-on by OpenID Connect (authorization code flow, PKCE S256, state and nonce).

:class:`SingleSignOn` speaks to the identity provider named by the settings
(``console_oidc_*``): it reads the provider's discovery document (its ``issuer`` must be
the one configured), builds the authorization URL with Authlib's OAuth 2 and PKCE
helpers, exchanges the code at the token endpoint (client secret, code verifier), and
checks the ID token with joserfc against the provider's published keys: signature,
issuer, audience, expiry, and the nonce made for this browser. The login is then read
from the configured claim; :func:`signed_in_operator` admits only an operator who
exists and is enabled in ``vigie operators`` and, if a role claim is configured, whose
role the provider also states. Every refusal raises
:class:`~vigie.console.auth.SignInRefused` (fail closed).
"""

from __future__ import annotations

import base64
import hmac
import json
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigie.console.auth import SignInRefused
from vigie.console.models import Operator
from vigie.console.sessions import CookieSigner
from vigie.settings import Settings

COOKIE = "vigie_sso"
CALLBACK = "/login/sso/callback"
PENDING_SECONDS = 600
ALGORITHMS = ("RS256", "ES256", "PS256", "EdDSA")
TIMEOUT = 10.0


@dataclass(frozen=True)
class Pending:
    """What this browser's sign-in must come back with: state, nonce, PKCE verifier."""

    state: str
    nonce: str
    verifier: str
    expires: int

    @classmethod
    def new(cls, *, now: float) -> Pending:
        return cls(
            state=generate_token(32),
            nonce=generate_token(32),
            verifier=generate_token(64),
            expires=int(now) + PENDING_SECONDS,
        )

    def seal(self, signer: CookieSigner) -> str:
        """The signed cookie value holding this pending sign-in."""
        body = json.dumps([self.state, self.nonce, self.verifier, self.expires]).encode()
        return signer.sign(base64.urlsafe_b64encode(body).rstrip(b"=").decode())

    @classmethod
    def unseal(cls, value: str | None, signer: CookieSigner, *, now: float) -> Pending:
        """The pending sign-in of a cookie ``value``; refused if absent, forged or stale."""
        token = signer.unsign(value)
        if token is None:
            raise SignInRefused("no single sign-on under way in this browser")
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            state, nonce, verifier, expires = json.loads(raw)
            pending = cls(state=str(state), nonce=str(nonce), verifier=str(verifier),
                          expires=int(expires))  # fmt: skip
        except (ValueError, TypeError):
            raise SignInRefused("no single sign-on under way in this browser") from None
        if pending.expires < now:
            raise SignInRefused("the single sign-on took too long; start again")
        return pending


@dataclass(frozen=True)
class Provider:
    """The identity provider and the console's client there, from the settings."""

    issuer: str
    client_id: str
    client_secret: str
    login_claim: str
    role_claim: str | None
    label: str

    @classmethod
    def of(cls, settings: Settings) -> Provider | None:
        """The configured provider, or None when single sign-on is off."""
        if not settings.console_oidc_issuer:
            return None
        assert settings.console_oidc_client_id and settings.console_oidc_client_secret
        return cls(
            issuer=settings.console_oidc_issuer.rstrip("/"),
            client_id=settings.console_oidc_client_id,
            client_secret=settings.console_oidc_client_secret.get_secret_value(),
            login_claim=settings.console_oidc_login_claim,
            role_claim=settings.console_oidc_role_claim,
            label=settings.console_oidc_label,
        )


class SingleSignOn:
    """The console's OpenID Connect client of one :class:`Provider`."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self._metadata: dict[str, Any] | None = None

    def _get(self, url: str) -> dict[str, Any]:
        try:
            response = httpx.get(url, timeout=TIMEOUT, follow_redirects=False)
            response.raise_for_status()
            found: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError):
            raise SignInRefused("the identity provider could not be reached") from None
        return found

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (read once), checked to be the issuer's own."""
        if self._metadata is None:
            found = self._get(self.provider.issuer + "/.well-known/openid-configuration")
            if str(found.get("issuer", "")).rstrip("/") != self.provider.issuer:
                raise SignInRefused("the identity provider's discovery names another issuer")
            for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(found.get(field), str):
                    raise SignInRefused(f"the identity provider publishes no {field}")
            self._metadata = found
        return self._metadata

    def authorization_url(self, pending: Pending, *, redirect_uri: str) -> str:
        """Where to send the browser to sign in at the provider."""
        url: str = prepare_grant_uri(
            self.metadata()["authorization_endpoint"],
            client_id=self.provider.client_id,
            response_type="code",
            redirect_uri=redirect_uri,
            scope="openid profile",
            state=pending.state,
            nonce=pending.nonce,
            code_challenge=create_s256_code_challenge(pending.verifier),
            code_challenge_method="S256",
        )
        return url

    def claims(
        self, pending: Pending, *, state: str, code: str, redirect_uri: str, now: float
    ) -> dict[str, Any]:
        """The checked claims of the ID token that ``code`` is exchanged for."""
        if not hmac.compare_digest(state, pending.state):
            raise SignInRefused("the single sign-on's state does not match this browser's")
        meta = self.metadata()
        try:
            response = httpx.post(
                meta["token_endpoint"],
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": redirect_uri,
                    "code_verifier": pending.verifier,
                },
                auth=(self.provider.client_id, self.provider.client_secret),
                timeout=TIMEOUT,
            )
            response.raise_for_status()
            id_token = str(response.json()["id_token"])
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            raise SignInRefused("the identity provider refused the code") from None
        keys = KeySet.import_key_set(self._get(meta["jwks_uri"]))  # type: ignore[arg-type]
        try:
            token = jwt.decode(id_token, keys, algorithms=list(ALGORITHMS))
            jwt.JWTClaimsRegistry(
                now=int(now),
                leeway=60,
                iss={"essential": True, "value": self.provider.issuer},
                aud={"essential": True, "value": self.provider.client_id},
                exp={"essential": True},
                sub={"essential": True},
                nonce={"essential": True, "value": pending.nonce},
            ).validate(token.claims)
        except (JoseError, ValueError, TypeError):
            raise SignInRefused("the identity provider's ID token did not verify") from None
        claims: dict[str, Any] = token.claims
        return claims


def signed_in_operator(session: Session, *, provider: Provider, claims: dict[str, Any]) -> Operator:
    """The enabled operator the ID token's claims name; :class:`SignInRefused` otherwise."""
    login = claims.get(provider.login_claim)
    if not isinstance(login, str) or not login:
        raise SignInRefused(f"the ID token has no {provider.login_claim} claim")
    operator = session.scalar(select(Operator).where(Operator.login == login.strip().lower()))
    if operator is None or operator.disabled_at is not None:
        raise SignInRefused("no enabled operator of that login")
    if provider.role_claim:
        stated = claims.get(provider.role_claim)
        roles = [stated] if isinstance(stated, str) else stated
        if not isinstance(roles, list) or operator.role not in roles:
            raise SignInRefused("the identity provider does not give this operator's role")
    return operator
