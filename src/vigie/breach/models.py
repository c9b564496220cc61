"""Tables of vigie.breach (filled as the domain lands)."""

from __future__ import annotations
