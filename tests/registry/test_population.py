"""The registry's population context: its file, its declaration (audited), its reading."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from vigie.audit.actions import Action
from vigie.audit.models import EVENTS
from vigie.errors import ConfigError, InvalidInput
from vigie.registry.population import (
    PopulationContext,
    current_population,
    declare_population,
    load_population,
    parse_population,
    require_population,
)
from vigie.synth.load import POPULATION

GOOD = """\
membership_reveals: recent immigration to France through the integration contract (CIR)
vulnerable: true
vulnerable_why: refugees and asylum seekers among them; relatives abroad
"""

BAD = [
    # (yaml text, what the error must say)
    ("vulnerable: true\n", "vulnerable_why"),
    ("vulnerable: false\nvulnerable_why: because\n", "vulnerable is false"),
    ("membership_reveals: x\n", "vulnerable: Field required"),
    ("vulnerable: false\nspecial_categories_inferable: [wealth]\n", "'wealth' is not a special"),
    ("vulnerable: false\nmembership: x\n", "membership: Extra inputs"),
    ("- a list\n", "is a mapping"),
    ("vulnerable: [unclosed\n", "not valid YAML"),
    (f"vulnerable: false\nmembership_reveals: {'x' * 501}\n", "at most 500"),
]


def test_the_file_is_read_and_checked() -> None:
    got = parse_population(GOOD, source="p.yaml")
    assert got.vulnerable and got.sensitive_membership
    assert got.membership_reveals is not None and "CIR" in got.membership_reveals
    assert not PopulationContext(vulnerable=False).sensitive_membership
    assert PopulationContext(
        vulnerable=False, special_categories_inferable=("health",)
    ).sensitive_membership


@pytest.mark.parametrize(("text", "says"), BAD, ids=[b[1] for b in BAD])
def test_a_bad_file_says_where_and_why(text: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=r"p\.yaml") as err:
        parse_population(text, source="p.yaml")
    assert says in str(err.value)


def test_an_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read"):
        load_population(tmp_path / "missing.yaml")
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("membership_reveals: Été\nvulnerable: false\n".encode("latin-1"))
    with pytest.raises(InvalidInput, match="not UTF-8"):
        load_population(latin1)


def test_the_synthetic_cir_registry_declares_a_sensitive_vulnerable_population() -> None:
    cir = load_population(POPULATION)
    assert cir.vulnerable and cir.sensitive_membership
    assert cir.membership_reveals and "immigration" in cir.membership_reveals
    assert cir.vulnerable_why and "refugees and asylum seekers" in cir.vulnerable_why


def test_declaring_is_audited_and_the_newest_is_in_force(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        assert current_population(s) is None
        with pytest.raises(ConfigError, match=r"not declared.*vigie subjects population"):
            require_population(s)
        first, changed = declare_population(
            s, context=parse_population(GOOD, source="p"), actor="operator:dpo"
        )
        assert changed and first.actor == "operator:dpo"
    with sessions.begin() as s:
        again, changed = declare_population(
            s, context=parse_population(GOOD, source="p"), actor="operator:dpo"
        )
        assert not changed and again.id == first.id  # the same context: nothing new
        plain = PopulationContext(vulnerable=False)
        second, changed = declare_population(s, context=plain, actor="operator:other")
        assert changed and second.id > first.id
    with sessions() as s:
        in_force = require_population(s)
        assert in_force.context == plain and in_force.audit_seq == second.audit_seq
        events = s.execute(
            select(EVENTS.c.seq, EVENTS.c.actor)
            .where(EVENTS.c.action == Action.REGISTRY_POPULATION.value)
            .order_by(EVENTS.c.seq)
        ).all()
    assert [(seq, actor) for seq, actor in events] == [
        (first.audit_seq, "operator:dpo"),
        (second.audit_seq, "operator:other"),
    ]
