"""The phases of an incident's response, read from its timeline.

Detection (the incident is opened), risk assessment, notification of the authority
(Art. 33: a pack prepared, phase by phase), notices to the people (Art. 34), the public
page, closure. A phase is reached when its first event is on the timeline; the page
shows each with when and by whom.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from vigie.breach.models import IncidentEvent

PHASES: tuple[tuple[str, frozenset[str]], ...] = (
    ("opened", frozenset({"open"})),
    ("risk assessed", frozenset({"risk", "risk_override"})),
    ("authority pack prepared", frozenset({"authority_pack"})),
    ("notices sent", frozenset({"notify"})),
    ("public page published", frozenset({"public_page"})),
    ("closed", frozenset({"close"})),
)
"""Each phase's name and the timeline kinds that reach it."""


@dataclass(frozen=True)
class Phase:
    """One phase: reached or not, when first and by whom, and how many events since."""

    name: str
    reached_at: datetime | None
    actor: str | None
    events: int


def phases(timeline: Sequence[IncidentEvent]) -> list[Phase]:
    """The phases of an incident from its timeline (oldest first)."""
    out = []
    for name, kinds in PHASES:
        hits = [e for e in timeline if e.kind in kinds]
        first = hits[0] if hits else None
        out.append(
            Phase(
                name=name,
                reached_at=first.at if first else None,
                actor=first.actor if first else None,
                events=len(hits),
            )
        )
    return out
