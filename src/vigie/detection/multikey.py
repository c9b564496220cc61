"""Many keys of one processor used together.

Budgets and detectors count per processor, so spreading an extraction over several keys
gains nothing on volume; this detector says so out loud.

Rule (inline):

- ``keys`` (MEDIUM): ``max_keys`` (3) or more distinct keys of the processor used within
  the last hour. A provider runs one key per application, two during a rotation.

Containment escalates too: a HIGH alert on a processor with another key active in the
last hour suspends the processor, not only the key (see
:mod:`~vigie.detection.containment`).
"""

from __future__ import annotations

from dataclasses import dataclass

from vigie.detection.findings import Finding, Severity, Snapshot


@dataclass(frozen=True)
class MultiKeyDetector:
    """Several keys of one processor active at once."""

    max_keys: int = 3
    name: str = "multikey"
    inline: bool = True

    def examine(self, snapshot: Snapshot) -> list[Finding]:
        if snapshot.active_keys < self.max_keys:
            return []
        return [
            Finding(
                self.name,
                "keys",
                Severity.MEDIUM,
                f"{snapshot.active_keys} keys of the processor used within an hour",
                {"active_keys": snapshot.active_keys, "limit": self.max_keys},
                snapshot.hour.start,
            )
        ]
