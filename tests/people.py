"""Synthetic test people with plain, predictable values (person ``i`` is ``Given{i}
Family{i}``, ``person{i}@mail.example``), shared by the test packages that need a
registry without the synthetic population."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from vigie.audit.actions import Action
from vigie.audit.seals import REGISTRY, Seal, Sealing
from vigie.registry.models import Subject


def person(i: int, *, ref: str, phone: str, valid_from: datetime) -> dict[str, Any]:
    """The registry values of test person ``i``."""
    return {
        "id": i,
        "ref": ref,
        "given_name": f"Given{i}",
        "family_name": f"Family{i}",
        "birth_date": date(1980 + i % 20, 1 + i % 12, 1 + i % 28),
        "sex": "F",
        "birth_country": "SEN",
        "nationality": "SEN",
        "preferred_language": "fr",
        "email": f"person{i}@mail.example",
        "phone": phone,
        "address_line": f"{i} rue de l'Exemple",
        "postal_code": "69003",
        "city": "Lyon",
        "region": "84",
        "entry_date": date(2023, 1, 1),
        "residence_reason": "family",
        "residence_status": "temporary-card",
        "cir_signed_on": date(2023, 2, 1),
        "course_hours": 100,
        "course_level": "A1",
        "valid_from": valid_from,
        "version": 1,
    }


def add_people(session: Session, rows: Iterable[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` (from :func:`person`) into the registry, sealed as an import seals
    them; return their ids."""
    values = list(rows)
    ids = [int(v["id"]) for v in values]
    if values:
        with sealed(session, REGISTRY, ids, action=Action.SUBJECT_IMPORT):
            session.execute(insert(Subject), values)
    return ids


@contextmanager
def sealed(
    session: Session, seal: Seal, subject_ids: Iterable[int], *, action: Action
) -> Iterator[None]:
    """Write the rows of ``subject_ids`` in ``seal`` inside the block, as Vigie's writers
    do: their buckets checked against their seals before, sealed in an ``action`` event
    after (:mod:`vigie.audit.seals`)."""
    ids = list(subject_ids)
    sealing = Sealing(session)
    sealing.check(seal, seal.keys(ids))
    yield
    session.flush()
    sealing.append(action=action, actor="operator:test", detail={"count": len(ids)})
