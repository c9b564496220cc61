"""Fixtures of the leak tests: a synthetic registry with processors that received data.

The population comes from ``vigie.synth.load.synthesize`` (processors from the shipped
providers file, assignments by region, canaries). The disclosure history is written
through the real audit trail (``subject:list`` events), so the served index holds what
each processor actually received: each processor fetched a seeded share of its scope
with its contract's fields. A checkpoint signed over it all anchors it, as the CLI and
the gateway would have.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from vigie.audit.actions import Action
from vigie.audit.trail import append
from vigie.processors.models import Assignment, Contract, Processor
from vigie.registry.models import Subject
from vigie.secrets import InstanceSecrets
from vigie.store.engine import make_session_factory
from vigie.synth.load import synthesize

from ..anchoring import sign
from ..snapshots import Snapshot
from .helpers import World

PEOPLE = 1500
PAGE = 100


def _disclose(session: Session, rng: random.Random) -> None:
    rows = session.execute(
        select(Assignment.processor_id, Assignment.subject_id, Contract.read_fields, Processor.name)
        .join(Contract, Contract.id == Assignment.contract_id)
        .join(Processor, Processor.id == Assignment.processor_id)
        .order_by(Assignment.processor_id, Assignment.subject_id)
    ).all()
    scope: dict[int, tuple[str, list[str], list[int]]] = {}
    for pid, sid, fields, name in rows:
        scope.setdefault(pid, (name, list(fields), []))[2].append(sid)
    for pid, (name, fields, ids) in sorted(scope.items()):
        share = rng.uniform(0.55, 0.9)
        fetched = sorted(s for s in set(ids) if rng.random() < share)
        for start in range(0, len(fetched), PAGE):
            append(
                session,
                action=Action.SUBJECT_LIST,
                actor=f"processor:{name}/key:1",
                processor_id=pid,
                subject_ids=fetched[start : start + PAGE],
                fields=fields,
                outcome="ok",
                detail={"count": len(fetched[start : start + PAGE])},
            )


@pytest.fixture
def world(
    engine: Engine,
    sessions: sessionmaker[Session],
    secrets: InstanceSecrets,
    registry_snapshot: Snapshot,
) -> World:
    return copied_world(registry_snapshot, engine, sessions, secrets)


def copied_world(
    snapshot: Snapshot,
    engine: Engine,
    sessions: sessionmaker[Session],
    secrets: InstanceSecrets,
) -> World:
    """What :func:`build_world` makes, copied into ``engine``'s database (fresh and empty)
    from the session's snapshot (``tests.conftest.registry_snapshot``) and signed with
    ``secrets``' key."""
    snapshot.restore(engine)
    sign(sessions, secrets)  # as `vigie synth` and the gateway would have
    return read_world(sessions)


def build_world(engine: Engine, sessions: sessionmaker[Session], secrets: InstanceSecrets) -> World:
    """The registry, its processors and what each received (other suites use it too)."""
    build_registry(engine)
    sign(sessions, secrets)  # as `vigie synth` and the gateway would have
    return read_world(sessions)


def build_registry(engine: Engine) -> None:
    """The people and processors of ``synthesize``, and what each processor fetched,
    written through the audit trail (not yet anchored by a checkpoint)."""
    synthesize(engine, people=PEOPLE, seed=20260115)
    with make_session_factory(engine).begin() as session:
        _disclose(session, random.Random(7))


def read_world(sessions: sessionmaker[Session]) -> World:
    """The :class:`World` of the registry in the database."""
    from vigie.audit.index import fields_received, received_by

    with sessions() as session:
        people = {s.id: s for s in session.scalars(select(Subject))}
        processors = {n: p for n, p in session.execute(select(Processor.name, Processor.id))}
        received = {n: received_by(session, processor_id=p) for n, p in processors.items()}
        fields = {
            n: sorted(fields_received(session, processor_id=p)) for n, p in processors.items()
        }
        masks: dict[str, dict[str, str]] = {}
        for name, contract_masks in session.execute(
            select(Processor.name, Contract.masks).join(
                Contract, Contract.processor_id == Processor.id
            )
        ):
            masks.setdefault(name, {}).update(contract_masks or {})
    canaries = {i for i, s in people.items() if s.is_canary}
    return World(people, processors, received, fields, canaries, masks)


@pytest.fixture
def leak_dir(tmp_path: Path) -> Path:
    d = tmp_path / "leaks"
    d.mkdir()
    return d
