"""``GET /api/v1/pseudonyms/rotation``: a processor fetches its pseudonym mapping, once.

Mounted by the gateway (``include_router``). Authenticates the API key like every
gateway request and acts only for the key's processor; the route only calls
:func:`vigie.fingerprint.rotation.fetch_mapping` and renders its answer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session, sessionmaker
from starlette.responses import Response

from vigie.errors import ConfigError, NotFound, VigieError
from vigie.fingerprint.rotation import MappingFetched, fetch_mapping
from vigie.gateway.problems import PROBLEM_JSON, ProblemKind, problem, problem_for
from vigie.gateway.schemas import Problem
from vigie.processors.keys import authenticate
from vigie.secrets import InstanceSecrets

_bearer = HTTPBearer(auto_error=False)
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]

NO_ROTATION = ProblemKind(404, "no-rotation", "No pseudonym rotation")
ALREADY_FETCHED = ProblemKind(403, "mapping-fetched", "Mapping already fetched")
NOT_LOADED = ProblemKind(503, "key-not-loaded", "New key not loaded yet")
PATH = "/api/v1/pseudonyms/rotation"


class MappingPair(BaseModel):
    """One person's pseudonym before and after the rotation."""

    old: str = Field(description="The pseudonym this API gave you before the rotation.")
    new: str = Field(description="The person's pseudonym from now on.")


class PseudonymMapping(BaseModel):
    """Every pseudonym you were given, with its replacement."""

    from_version: int = Field(description="The key version the old pseudonyms came from.")
    to_version: int = Field(description="The key version of the new pseudonyms.")
    mapping: list[MappingPair]


_DESCRIPTIONS = {
    401: "Missing, malformed or unknown API key.",
    403: "Key or processor refused, or the mapping was already fetched (it is given once).",
    404: "Your pseudonyms were never rotated.",
    503: "The gateway does not hold the new key yet (it loads it within seconds), or the "
    "audit trail could not record the fetch; nothing was handed out, retry later.",
}


def _responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        s: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": _DESCRIPTIONS[s]}
        for s in statuses
    }


def make_router(
    *,
    sessions: sessionmaker[Session],
    secrets: InstanceSecrets,
    clock: Callable[[], datetime],
) -> APIRouter:
    """The pseudonym-rotation endpoint of the processor API."""
    router = APIRouter(prefix="/api/v1", tags=["pseudonyms"])

    @router.get(
        PATH.removeprefix("/api/v1"),
        response_model=PseudonymMapping,
        summary="Fetch, once, your old → new pseudonym mapping after a rotation",
        responses=_responses(401, 403, 404, 503),
    )
    def pseudonym_mapping(request: Request, credentials: BearerDep) -> Response:
        """After the controller rotated your pseudonym key, every person has a new pseudonym
        towards you. This answers, once, each pseudonym you were given with its replacement,
        so you can re-key your records; a second call is refused (403)."""
        token = credentials.credentials if credentials is not None else None
        client = request.client.host if request.client else None
        try:
            with sessions.begin() as session:
                now = clock()
                caller = authenticate(session, token=token, client_ip=client, now=now)
                mapping = fetch_mapping(
                    session,
                    secrets=secrets,
                    processor_id=caller.processor.id,
                    key_id=caller.key.id,
                    actor=caller.actor,
                    now=now,
                )
        except NotFound as exc:
            return problem(NO_ROTATION, str(exc), instance=request.url.path)
        except ConfigError as exc:
            return problem(NOT_LOADED, str(exc), instance=request.url.path)
        except MappingFetched as exc:
            return problem(ALREADY_FETCHED, str(exc), instance=request.url.path)
        except VigieError as exc:
            return problem_for(exc, instance=request.url.path)
        body = {
            "from_version": mapping.from_version,
            "to_version": mapping.to_version,
            "mapping": [{"old": old, "new": new} for old, new in mapping.pairs],
        }
        return Response(orjson.dumps(body), media_type="application/json")

    return router
