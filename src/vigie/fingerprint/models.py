"""Tables of vigie.fingerprint (filled as the domain lands)."""

from __future__ import annotations
