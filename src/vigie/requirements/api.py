"""The processor API's requirements endpoints, mounted by the gateway (``include_router``).

- ``POST /api/v1/attestations``: a processor sends an attestation (multipart form: the
  requirement, the statement, its expiry, its Ed25519 signature, the PDF evidence);
- ``POST /api/v1/campaigns/{campaign_id}/acknowledgement``: a processor acknowledges a
  campaign's message.

Both authenticate the API key like every gateway request (key, expiry, revocation,
suspension, allow-list) and act only for the key's processor: an attestation naming
another processor is refused (403) and nothing is stored. Routes only parse and call
:mod:`vigie.requirements.attestations` / :mod:`vigie.requirements.campaigns`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker
from starlette.responses import Response

from vigie.errors import Denied, NotFound, VigieError
from vigie.gateway.problems import PROBLEM_JSON, ProblemKind, problem, problem_for
from vigie.gateway.schemas import Problem
from vigie.http.problems import TOO_LARGE
from vigie.processors.keys import authenticate
from vigie.requirements.attestations import (
    MAX_DOCUMENT_BYTES,
    DocumentRejected,
    Submission,
    record_attestation,
)
from vigie.requirements.campaigns import acknowledge

_bearer = HTTPBearer(auto_error=False)
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


NO_SUCH = ProblemKind(404, "not-found", "Not found")


def _problem(exc: VigieError, *, path: str, too_large: bool = False) -> Response:
    """The problem for ``exc``; a 404 here names the requirement or campaign (no oracle:
    requirements and campaigns are the same for every processor)."""
    if too_large:
        return problem(TOO_LARGE, str(exc), instance=path)
    if isinstance(exc, NotFound):
        return problem(NO_SUCH, str(exc), instance=path)
    return problem_for(exc, instance=path)


_DESCRIPTIONS = {
    400: "Invalid request: not a PDF, a bad value, an expiry not after today.",
    401: "Missing, malformed or unknown API key.",
    403: "Key or processor refused; a wrong signature; an attestation for another processor.",
    404: "No such requirement or campaign (for you).",
    413: "Request body or evidence document too large.",
    414: "Request target too long.",
    422: "Request does not match this schema.",
    431: "A request header line, or all of them, too large.",
    503: "The audit trail could not record it, so nothing was stored; retry later.",
}


def _responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        s: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": _DESCRIPTIONS[s]}
        for s in statuses
    }


def _json(data: object, status: int) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


ATTESTATIONS_PATH = "/api/v1/attestations"
# What a multipart body adds to its document: the statement (≤ 4,000 characters, up to
# 4 bytes each), the other form fields, boundaries and part headers.
MULTIPART_OVERHEAD = 32_768


def make_router(
    *,
    sessions: sessionmaker[Session],
    store_dir: Path,
    clock: Callable[[], datetime],
    max_document_bytes: int = MAX_DOCUMENT_BYTES,
) -> APIRouter:
    """The requirements endpoints of the processor API."""
    router = APIRouter(prefix="/api/v1", tags=["requirements"])

    @router.post(
        ATTESTATIONS_PATH.removeprefix("/api/v1"),
        status_code=201,
        summary="Attest that you meet a requirement, with a signed statement and evidence",
        responses=_responses(400, 401, 403, 404, 413, 414, 422, 431, 503),
    )
    async def submit_attestation(
        request: Request,
        credentials: BearerDep,
        requirement: Annotated[str, Form(max_length=64)],
        statement: Annotated[str, Form(max_length=4000)],
        expires_on: Annotated[date, Form()],
        signature: Annotated[str, Form(max_length=128)],
        document: Annotated[UploadFile, File(description="The evidence, a PDF.")],
        processor: Annotated[str | None, Form(max_length=64)] = None,
    ) -> Response:
        """Record an attestation of your own processor: `signature` is your statement key's
        Ed25519 signature (hex) over the lines documented in docs/requirements.md; the
        document must be a PDF. Expired attestations count as missing."""
        data = await document.read(max_document_bytes + 1)
        token = credentials.credentials if credentials is not None else None
        client = request.client.host if request.client else None
        try:
            with sessions.begin() as session:
                now = clock()
                caller = authenticate(session, token=token, client_ip=client, now=now)
                if processor is not None and processor != caller.processor.name:
                    raise Denied("a processor may attest only for itself")
                row = record_attestation(
                    session,
                    processor=caller.processor,
                    submission=Submission(
                        requirement=requirement,
                        statement=statement,
                        expires_on=expires_on,
                        document=data,
                        signature=signature,
                    ),
                    actor=caller.actor,
                    store_dir=store_dir,
                    now=now,
                    require_signature=True,
                    max_bytes=max_document_bytes,
                )
                body = {
                    "id": row.id,
                    "requirement": row.requirement,
                    "version": row.version,
                    "document_sha256": row.document_sha256,
                    "expires_on": row.expires_on.isoformat(),
                    "audit_seq": row.audit_seq,
                }
        except DocumentRejected as exc:
            too_large = len(data) > max_document_bytes
            return _problem(exc, path=request.url.path, too_large=too_large)
        except VigieError as exc:
            return _problem(exc, path=request.url.path)
        return _json(body, 201)

    @router.post(
        "/campaigns/{campaign_id}/acknowledgement",
        summary="Acknowledge a requirements campaign",
        responses=_responses(401, 403, 404, 414, 422, 431, 503),
    )
    def acknowledge_campaign(
        request: Request,
        credentials: BearerDep,
        campaign_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)],
    ) -> Response:
        """Say that your organisation received the campaign's new requirements."""
        token = credentials.credentials if credentials is not None else None
        client = request.client.host if request.client else None
        try:
            with sessions.begin() as session:
                now = clock()
                caller = authenticate(session, token=token, client_ip=client, now=now)
                notice = acknowledge(
                    session, campaign_id=campaign_id, processor=caller.processor,
                    actor=caller.actor, now=now,
                )  # fmt: skip
                body = {"campaign": campaign_id, "acknowledged_at": notice.acknowledged_at}
        except VigieError as exc:
            return _problem(exc, path=request.url.path)
        return _json({k: str(v) for k, v in body.items()}, 200)

    return router
