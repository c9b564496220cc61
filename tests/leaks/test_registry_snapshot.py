"""The leak tests' registry, copied from the session's snapshot, is the one a build writes."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, MetaData, func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import fresh_database
from vigie.audit.actions import Action
from vigie.audit.trail import append
from vigie.audit.verify import verify_trail
from vigie.secrets import InstanceSecrets
from vigie.store.engine import make_engine, make_session_factory
from vigie.store.models import load_metadata

from .conftest import build_world
from .helpers import World


def _counts(engine: Engine, metadata: MetaData) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in metadata.sorted_tables
        }


def test_a_copied_registry_is_the_one_a_build_writes(
    world: World,
    engine: Engine,
    sessions: sessionmaker[Session],
    secrets: InstanceSecrets,
    tmp_path: Path,
    sqlite_template: Path,
    request: pytest.FixtureRequest,
) -> None:
    kind = engine.dialect.name
    ddl = lambda: request.getfixturevalue("pg_ddl")  # noqa: E731
    (tmp_path / "built").mkdir()
    with fresh_database(kind, tmp_path / "built", sqlite_template, ddl) as url:
        built_engine = make_engine(url)
        try:
            built = build_world(built_engine, make_session_factory(built_engine), secrets)
            metadata = load_metadata()
            assert _counts(engine, metadata) == _counts(built_engine, metadata)
        finally:
            built_engine.dispose()
    assert {i: p.ref for i, p in world.people.items()} == {
        i: p.ref for i, p in built.people.items()
    }
    assert (world.processors, world.received, world.fields) == (
        built.processors,
        built.received,
        built.fields,
    )
    assert (world.canaries, world.masks) == (built.canaries, built.masks)
    # The copy's trail verifies under this test's key, and grows from where it stands
    # (the sequences were moved with the rows).
    before = verify_trail(engine, public_key=secrets.verify_key)
    with sessions.begin() as s:
        append(s, action=Action.ACCESS_DENIED, actor="operator:test", outcome="denied")
    assert verify_trail(engine, public_key=secrets.verify_key).events == before.events + 1
