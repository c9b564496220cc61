"""Tables of vigie.leaks (filled as the domain lands)."""

from __future__ import annotations
