"""Tables of vigie.detection (filled as the domain lands)."""

from __future__ import annotations
