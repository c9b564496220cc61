"""New network origin: a processor calling from a network it never used.

Networks are IPv4 /24 and IPv6 /48 blocks (see :func:`network_of`).

Rule (inline):

- ``new-network`` (LOW): a request from a network first seen now, for a processor known
  for at least ``learning`` (3 days). During its first days every network is new.

A stolen key is usually used from somewhere else; a provider also moves offices and
changes operators. Alone it is a hint (LOW), kept as evidence.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import timedelta

from vigie.detection.findings import Finding, Severity, Snapshot


def network_of(origin: str | None) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) block of an address; None if absent or not an address."""
    if not origin:
        return None
    try:
        addr = ipaddress.ip_address(origin)
    except ValueError:
        return None
    prefix = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))


@dataclass(frozen=True)
class NewOriginDetector:
    """A network a known processor never called from."""

    learning: timedelta = timedelta(days=3)
    name: str = "new-origin"
    inline: bool = True

    def examine(self, snapshot: Snapshot) -> list[Finding]:
        if snapshot.new_origin is None or snapshot.known_since is None:
            return []
        if snapshot.at - snapshot.known_since < self.learning:
            return []
        return [
            Finding(
                self.name,
                "new-network",
                Severity.LOW,
                f"first request from network {snapshot.new_origin}",
                {"network": snapshot.new_origin, "known_since": snapshot.known_since.isoformat()},
                None,
                snapshot.new_origin,
            )
        ]
