"""Fixtures of the audit tests: a small trail with checkpoints, a helper to fill one, and
its export."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from vigie.audit.actions import Action
from vigie.audit.checkpoints import take
from vigie.audit.export import export_trail
from vigie.audit.trail import append
from vigie.secrets import InstanceSecrets


@pytest.fixture
def filled(sessions: sessionmaker[Session], secrets: InstanceSecrets) -> list[int]:
    """A trail of 40 varied events with two checkpoints inside it; returns checkpoint ids."""
    ids = []
    with sessions.begin() as s:
        fill(s, 15)
        cp = take(s, signing_key=secrets.signing_key, actor="operator:cli")
        assert cp is not None
        ids.append(cp.id)
    with sessions.begin() as s:
        fill(s, 14)
        cp = take(s, signing_key=secrets.signing_key, actor="operator:cli")
        assert cp is not None
        ids.append(cp.id)
    with sessions.begin() as s:
        fill(s, 9)
    return ids


@pytest.fixture(name="fill")
def fill_fixture() -> Callable[[Session, int], list[int]]:
    """The :func:`fill` helper, for tests that build their own trail."""
    return fill


def fill(session: Session, n: int) -> list[int]:
    """Append ``n`` events of several kinds (disclosures, denials, operator actions)."""
    seqs = []
    for i in range(n):
        kind = i % 3
        if kind == 0:
            seqs.append(
                append(
                    session,
                    action=Action.SUBJECT_LIST,
                    actor="processor:cir-alpha/key:3",
                    processor_id=1,
                    key_id=3,
                    origin="192.0.2.10",
                    purpose="cir-language-training",
                    subject_ids=[100 + i, 200 + i, 5000 + i * 7],
                    fields=["name", "email", "phone"],
                    detail={"page": i, "count": 3},
                )
            )
        elif kind == 1:
            seqs.append(
                append(
                    session,
                    action=Action.ACCESS_DENIED,
                    actor="processor:cir-beta/key:9",
                    processor_id=2,
                    key_id=9,
                    origin="198.51.100.4",
                    outcome="denied",
                    detail={"reason": "out_of_scope"},
                )
            )
        else:
            seqs.append(append(session, action=Action.KEY_ISSUE, actor="operator:dpo", key_id=i))
    return seqs


@pytest.fixture
def exported(
    engine: Engine,
    sessions: sessionmaker[Session],
    secrets: InstanceSecrets,
    filled: list[int],
    tmp_path: Path,
) -> Path:
    """An export (``vigie audit export``) of the ``filled`` trail: 40 events, 3 checkpoints."""
    out = tmp_path / "export"
    report = export_trail(engine, sessions, out=out, secrets=secrets, actor="operator:dpo")
    assert report.events == 40 and report.checkpoints == 3
    return out
