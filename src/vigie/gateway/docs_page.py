"""The interactive API documentation at ``/api/docs``, served from the package alone.

A gateway for personal data must not make its operators' browsers run code from another
origin. The page is our own (:file:`static/docs.html`, no inline script or style), its
script starts Swagger UI (:file:`static/docs.js`), and Swagger UI's files come from the
installed ``swagger-ui-bundle-v2`` package (Swagger UI 5, which reads
OpenAPI 3.1; 4 does not). Only the files listed in :data:`ASSETS` are
served. The page's ``Content-Security-Policy`` allows this origin's scripts, styles and
requests and nothing else. ``Settings.gateway_docs = false`` leaves it all out.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import swagger_ui_bundle
from fastapi import FastAPI
from starlette.responses import Response

from vigie.gateway.problems import ROUTE_NOT_FOUND, problem

DOCS_URL = "/api/docs"
ASSETS_URL = DOCS_URL + "/assets/"

DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
"""The page's policy: this origin only (Swagger UI draws its icons as ``data:`` images)."""

_STATIC = files("vigie.gateway") / "static"
_SWAGGER = Path(swagger_ui_bundle.swagger_ui_path)


@dataclass(frozen=True)
class Asset:
    """A file the page loads: where it is, and its media type."""

    source: Path
    media_type: str


ASSETS: dict[str, Asset] = {
    "swagger-ui-bundle.js": Asset(_SWAGGER / "swagger-ui-bundle.js", "text/javascript"),
    "swagger-ui.css": Asset(_SWAGGER / "swagger-ui.css", "text/css"),
    "favicon-32x32.png": Asset(_SWAGGER / "favicon-32x32.png", "image/png"),
    "docs.js": Asset(Path(str(_STATIC / "docs.js")), "text/javascript"),
}


def add_docs(app: FastAPI) -> None:
    """Serve the documentation page and its assets on ``app`` (files read once, now)."""
    page = (_STATIC / "docs.html").read_bytes()
    loaded = {name: (a.source.read_bytes(), a.media_type) for name, a in ASSETS.items()}

    @app.get(DOCS_URL, include_in_schema=False)
    def docs() -> Response:
        return Response(
            page,
            media_type="text/html; charset=utf-8",
            headers={"Content-Security-Policy": DOCS_CSP, "Cache-Control": "no-cache"},
        )

    @app.get(ASSETS_URL + "{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        found = loaded.get(name)
        if found is None:
            return problem(ROUTE_NOT_FOUND, "no such file", instance=ASSETS_URL + name[:100])
        body, media_type = found
        return Response(body, media_type=media_type, headers={"Cache-Control": "max-age=3600"})
