"""A bar chart drawn on the server: plain numbers for the template's inline SVG.

No script and no style attribute (the CSP allows neither): the template places ``<rect>``
elements at the coordinates computed here, each with a ``<title>`` that says its value,
and the same figures are in a table for screen readers and keyboards.
"""

from __future__ import annotations

from typing import Any

from vigie.console.figures import DayActivity
from vigie.console.i18n import Formatter

WIDTH = 720
HEIGHT = 160
GAP = 2


def people_chart(days: list[DayActivity], fmt: Formatter) -> dict[str, Any]:
    """The bars of distinct people per day, scaled to the busiest day."""
    top = max((d.people for d in days), default=0)
    step = WIDTH / max(len(days), 1)
    bars = []
    for i, d in enumerate(days):
        height = round(HEIGHT * d.people / top, 1) if top else 0.0
        bars.append(
            {
                "x": round(i * step, 1),
                "y": round(HEIGHT - height, 1),
                "w": round(step - GAP, 1),
                "h": height,
                "day": fmt.day(d.day),
                "people": fmt.number(d.people),
                "requests": fmt.number(d.requests),
            }
        )
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "bars": bars,
        "top": fmt.number(top),
        "total_requests": fmt.number(sum(d.requests for d in days)),
    }
