"""Inclusion and consistency proofs against signed checkpoints."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy.orm import Session, sessionmaker

from vigie.audit.proofs import check_consistency, check_inclusion, consistency, inclusion
from vigie.errors import IntegrityError, NotFound
from vigie.secrets import InstanceSecrets


def test_inclusion_of_every_event_in_every_checkpoint(
    sessions: sessionmaker[Session], secrets: InstanceSecrets, filled: list[int]
) -> None:
    with sessions() as s:
        for cp, size in zip(filled, (15, 30), strict=True):
            for seq in range(1, size + 1):
                proof = inclusion(s, seq=seq, checkpoint_id=cp)
                check_inclusion(proof, public_key=secrets.verify_key)
        latest = inclusion(s, seq=3)
    assert latest.checkpoint.id == filled[-1]
    data = latest.to_json()
    assert data["leaf_index"] == 2 and len(data["path"]) == len(latest.path) == 5


def test_tampered_proofs_are_refused(
    sessions: sessionmaker[Session], secrets: InstanceSecrets, filled: list[int]
) -> None:
    with sessions() as s:
        proof = inclusion(s, seq=7)
        cons = consistency(s, old_id=filled[0], new_id=filled[1])
    check_consistency(cons, public_key=secrets.verify_key)
    bad_leaf = dataclasses.replace(proof, leaf=bytes(32))
    with pytest.raises(IntegrityError):
        check_inclusion(bad_leaf, public_key=secrets.verify_key)
    bad_head = dataclasses.replace(
        proof, checkpoint=dataclasses.replace(proof.checkpoint, size=proof.checkpoint.size + 1)
    )
    with pytest.raises(IntegrityError, match="signature"):
        check_inclusion(bad_head, public_key=secrets.verify_key)
    with pytest.raises(IntegrityError):
        check_consistency(
            dataclasses.replace(cons, path=cons.path[1:]), public_key=secrets.verify_key
        )


def test_missing_things_are_not_found(sessions: sessionmaker[Session], filled: list[int]) -> None:
    with sessions() as s:
        with pytest.raises(NotFound, match="newer than checkpoint"):
            inclusion(s, seq=35)
        with pytest.raises(NotFound, match="no event"):
            inclusion(s, seq=999)
        with pytest.raises(NotFound, match="no checkpoint #9"):
            inclusion(s, seq=1, checkpoint_id=9)
        with pytest.raises(NotFound, match="larger than"):
            consistency(s, old_id=filled[1], new_id=filled[0])


def test_no_checkpoint_yet(sessions: sessionmaker[Session]) -> None:
    with sessions() as s, pytest.raises(NotFound, match="vigie audit checkpoint"):
        inclusion(s, seq=1)
