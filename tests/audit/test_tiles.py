"""Tiles make proofs cheap and never change them; a damaged tile cannot yield a bad proof."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from vigie.audit import merkle
from vigie.audit.actions import Action
from vigie.audit.checkpoints import take
from vigie.audit.models import AuditEvent, AuditTile
from vigie.audit.proofs import consistency, inclusion
from vigie.audit.trail import NewEvent, append_many
from vigie.errors import IntegrityError
from vigie.secrets import InstanceSecrets

EVENT = NewEvent(action=Action.ACCESS_DENIED, actor="system:test", outcome="denied")


@pytest.fixture
def grown(sessions: sessionmaker[Session], secrets: InstanceSecrets) -> list[int]:
    """About 1,300 events with checkpoints at uneven sizes; returns checkpoint ids."""
    ids = []
    for n in (300, 1, 511, 200, 290):
        with sessions.begin() as s:
            append_many(s, [EVENT] * n)
            cp = take(s, signing_key=secrets.signing_key, actor="operator:cli")
            assert cp is not None
            ids.append(cp.id)
    return ids


def test_tiles_cover_every_complete_block_and_proofs_match_leaf_proofs(
    sessions: sessionmaker[Session], grown: list[int]
) -> None:
    with sessions() as s:
        size = s.scalar(select(func.count()).select_from(AuditEvent)) or 0
        leaves = list(s.scalars(select(AuditEvent.entry_hash).order_by(AuditEvent.seq)))
        tiles = {t.idx: t.hash for t in s.scalars(select(AuditTile).where(AuditTile.level == 8))}
        covered = 1306  # the last checkpoint signs all but its own event
        assert sorted(tiles) == list(range(covered // 256))
        for idx, h in tiles.items():
            assert h == merkle.root(leaves[idx * 256 : (idx + 1) * 256])
        for seq in (1, 255, 256, 257, 700, 1024, 1100, covered):
            proof = inclusion(s, seq=seq)
            expected = merkle.inclusion_proof(
                seq - 1, covered, lambda lo, hi: merkle.root(leaves[lo:hi])
            )
            assert proof.path == expected
        cons = consistency(s, old_id=grown[0], new_id=grown[-1])
        assert cons.path == merkle.consistency_proof(
            300, covered, lambda lo, hi: merkle.root(leaves[lo:hi])
        )
    assert size == 1307


def test_a_damaged_tile_is_refused_not_served(
    engine: Engine, sessions: sessionmaker[Session], grown: list[int]
) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_tiles SET hash = :h WHERE level = 8 AND idx = 1"), {"h": bytes(32)}
        )
    with sessions() as s, pytest.raises(IntegrityError, match="is not in checkpoint"):
        inclusion(s, seq=5)
