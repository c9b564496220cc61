"""Tables of vigie.audit (filled as the domain lands)."""

from __future__ import annotations
