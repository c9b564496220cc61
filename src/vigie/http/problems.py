"""RFC 9457 problem documents: the one shape of every error a listener answers.

A :class:`ProblemKind` is an HTTP status, a stable ``type`` URI a client can switch on and
a title. The listener-level kinds (size limits) live here; each listener adds its own
(the gateway's in :mod:`vigie.gateway.problems`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://vigie.example/problems/"


@dataclass(frozen=True)
class ProblemKind:
    """One kind of error: its HTTP status, ``type`` slug and title."""

    status: int
    slug: str
    title: str

    @property
    def type(self) -> str:
        return TYPE_BASE + self.slug


BAD_REQUEST = ProblemKind(400, "invalid-request", "Invalid request")
TOO_LARGE = ProblemKind(413, "body-too-large", "Request body too large")
URI_TOO_LONG = ProblemKind(414, "uri-too-long", "Request target too long")
HEADER_TOO_LARGE = ProblemKind(431, "header-too-large", "Request header fields too large")


def problem_body(
    kind: ProblemKind, detail: str, *, instance: str | None = None, **extra: Any
) -> bytes:
    """The JSON document of a problem of ``kind``."""
    body: dict[str, Any] = {
        "type": kind.type,
        "title": kind.title,
        "status": kind.status,
        "detail": detail,
    }
    if instance is not None:
        body["instance"] = instance
    body.update(extra)
    return orjson.dumps(body)
