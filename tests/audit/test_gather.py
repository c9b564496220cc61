"""The evidence pass over the trail copes with every shape of disclosure batch."""

from __future__ import annotations

from tests.anchoring import sign
from tests.gateway.conftest import World, world  # noqa: F401 (fixture)
from vigie.audit.verify import verify_trail


def test_a_trail_whose_only_disclosures_held_nobody_verifies(world: World) -> None:  # noqa: F811
    world.processor("lingua")  # a contract, nobody assigned: every page it reads is empty
    token = world.key("lingua")
    for _ in range(2):
        r = world.api().get("/api/v1/subjects", token=token)
        assert r.status_code == 200, r.text
    sign(world.sessions, world.secrets)
    report = verify_trail(world.engine, public_key=world.secrets.verify_key)
    assert report.events > 0
