"""A trail whose only disclosures named nobody (an empty page of people) verifies.

Before, the served index's pass took the "first event of each group" of an empty batch
and ``vigie audit verify`` crashed with an IndexError instead of answering.
"""

from __future__ import annotations

from tests.gateway.conftest import World, world  # noqa: F401 (fixture)
from vigie.audit.verify import verify_trail


def test_a_list_of_nobody_is_a_disclosure_the_verifier_reads(world: World) -> None:  # noqa: F811
    world.processor("lingua")  # assigned nobody: its pages are empty
    api = world.api()
    r = api.get("/api/v1/subjects", token=world.key("lingua"))
    assert r.status_code == 200, r.text
    assert not [v for v in r.json().values() if isinstance(v, list) and v]  # nobody
    verify_trail(world.engine, public_key=world.secrets.verify_key)
