"""An incident to show in the console: a processor, exposed people, a risk assessment.

Built with the breach package's own calls (as ``vigie incident open/assess`` would), the
trail signed afterwards so the evidence gate lets the authority pack and notices through.
"""

from __future__ import annotations

from datetime import timedelta

from tests.anchoring import sign
from tests.gateway.conftest import World
from vigie.breach.assessment import assess_incident
from vigie.breach.clock import ReadClock
from vigie.breach.incidents import open_incident, record_exposure
from vigie.registry.population import declare_population, load_population
from vigie.synth.load import POPULATION

FIELDS = ("given_name", "family_name", "email", "nationality")


def make_incident(
    world: World,
    *,
    people: int = 6,
    processor: str = "lingua",
    title: str = "Extract of lingua's scope offered for sale",
    assess: bool = True,
    aware_hours_ago: float = 30,
) -> int:
    """Open an incident exposing ``people`` new people; assessed (high: notices due)."""
    if f"{processor}/main" not in world.contracts:
        world.processor(processor)
    processor_id = world.processor_id(processor)
    ids = world.people(people)
    clock = ReadClock(world.clock)
    with world.sessions.begin() as s:
        declare_population(s, context=load_population(POPULATION), actor="operator:test")
        incident = open_incident(
            s,
            title=title,
            source="leak",
            aware_at=world.now - timedelta(hours=aware_hours_ago),
            actor="operator:test",
            processor_id=processor_id,
            summary="A file of the processor's scope was put on sale.",
            clock=clock,
        )
        record_exposure(
            s,
            incident_id=incident.id,
            exposures={i: FIELDS for i in ids},
            actor="operator:test",
            clock=clock,
        )
        if assess:
            assess_incident(
                s,
                incident_id=incident.id,
                actor="operator:test",
                malicious=True,
                recipients="unknown",
                clock=clock,
            )
        incident_id = incident.id
    sign(world.sessions, world.secrets)
    return incident_id
