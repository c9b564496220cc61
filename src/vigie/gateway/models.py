"""Tables of vigie.gateway (filled as the domain lands)."""

from __future__ import annotations
