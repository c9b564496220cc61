"""A tiny OpenID Connect provider for the tests: discovery, authorize (no login screen:
it vouches for :attr:`Provider.user`), token (client secret, PKCE S256, one use per
code) and JWKS, issuing RS256 ID tokens with joserfc. Served by uvicorn on loopback, so
the console's client talks real HTTP to it. Knobs let a test make it misbehave."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import uvicorn
from fastapi import FastAPI, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from tests.gateway.serving import free_port

CLIENT_ID = "vigie-console"
CLIENT_SECRET = "test-client-secret-7f3a"  # the test provider's


@dataclass
class Provider:
    """The provider's state, and what a test may change in it."""

    clock: Callable[[], float]
    issuer: str = ""
    user: dict[str, Any] = field(default_factory=lambda: {"preferred_username": "alice"})
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, auto_kid=True))
    signing_key: RSAKey | None = None  # sign with another key than the published one
    audience: str = CLIENT_ID
    issuer_in_token: str | None = None
    nonce_override: str | None = None
    expires_in: int = 300
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        def discovery() -> dict[str, Any]:
            return {
                "issuer": self.issuer,
                "authorization_endpoint": self.issuer + "/authorize",
                "token_endpoint": self.issuer + "/token",
                "jwks_uri": self.issuer + "/jwks",
                "response_types_supported": ["code"],
                "code_challenge_methods_supported": ["S256"],
            }

        @app.get("/jwks")
        def jwks() -> dict[str, Any]:
            return KeySet([self.key]).as_dict(private=False)

        @app.get("/authorize")
        def authorize(request: Request) -> RedirectResponse:
            q = request.query_params
            assert q["client_id"] == CLIENT_ID and q["response_type"] == "code"
            assert q["code_challenge_method"] == "S256"
            code = secrets.token_urlsafe(16)
            self.codes[code] = {
                "redirect_uri": q["redirect_uri"],
                "nonce": q["nonce"],
                "challenge": q["code_challenge"],
            }
            query = urlencode({"code": code, "state": q["state"]})
            return RedirectResponse(f"{q['redirect_uri']}?{query}", status_code=302)

        @app.post("/token", response_model=None)
        def token(
            request: Request,
            code: str = Form(),
            redirect_uri: str = Form(),
            code_verifier: str = Form(),
            grant_type: str = Form(),
        ) -> JSONResponse | dict[str, Any]:
            expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            if request.headers.get("authorization") != expected:
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            pending = self.codes.pop(code, None)  # a code is good once
            digest = hashlib.sha256(code_verifier.encode()).digest()
            challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if (
                grant_type != "authorization_code"
                or pending is None
                or pending["redirect_uri"] != redirect_uri
                or pending["challenge"] != challenge
            ):
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            now = int(self.clock())
            claims = {
                "iss": self.issuer_in_token or self.issuer,
                "sub": "idp-user-1",
                "aud": self.audience,
                "iat": now,
                "exp": now + self.expires_in,
                "nonce": self.nonce_override or pending["nonce"],
                **self.user,
            }
            key = self.signing_key or self.key
            header = {"alg": "RS256", "kid": self.key.kid}
            return {
                "access_token": secrets.token_urlsafe(16),
                "token_type": "Bearer",
                "id_token": jwt.encode(header, claims, key),
            }

        return app


@contextmanager
def serving(clock: Callable[[], float] = time.time) -> Iterator[Provider]:
    """A :class:`Provider` served on a free loopback port for the duration."""
    port = free_port()
    provider = Provider(clock=clock, issuer=f"http://127.0.0.1:{port}")
    server = uvicorn.Server(
        uvicorn.Config(provider.app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "provider did not start"
        time.sleep(0.05)
    try:
        yield provider
    finally:
        server.should_exit = True
        thread.join(timeout=10)
