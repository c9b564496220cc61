"""Page rendering: one Jinja2 environment, autoescaped, whose output neutralises bidi tricks.

Every ``{{ value }}`` is HTML-escaped (autoescape), and then Unicode's bidirectional
controls (the "RTL override" family) are shown as visible ``[U+202E]`` marks instead of
silently reordering what follows: a processor's or a person's name from a hostile file
cannot make ``exe.pdf`` read as ``fdp.exe`` or flip the figures next to it. Templates
receive plain values already formatted (:class:`~vigie.console.i18n.Formatter`) and
``_`` for the operator's language.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from starlette.responses import HTMLResponse

TEMPLATES = Path(__file__).parent / "templates"
BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    return f"[U+{ord(match.group()):04X}]"


def neutralise(value: Any) -> Any:
    """``value`` with bidi controls made visible (markup built by our code is kept as is)."""
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return BIDI_CONTROLS.sub(_visible, value)


def environment() -> Environment:
    """The console's template environment."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        finalize=neutralise,
        trim_blocks=True,
        lstrip_blocks=True,
    )


class Renderer:
    """Renders a template of the console into an HTML response."""

    def __init__(self) -> None:
        self.env = environment()

    def page(self, name: str, context: dict[str, Any], *, status: int = 200) -> HTMLResponse:
        html = self.env.get_template(name).render(**context)
        return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})
