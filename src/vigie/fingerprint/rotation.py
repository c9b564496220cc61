"""Rotating a processor's pseudonyms, and the one-time mapping old → new it is owed.

After ``vigie secrets rotate pseudonyms --processor NAME`` the gateway names every person
to that processor by a new pseudonym. The processor fetches, once, the mapping from the
pseudonyms it was given to the new ones (``GET /api/v1/pseudonyms/rotation``), so it can
re-key its own records; the mapping covers exactly the people it ever received (the
served index), nobody else. The fetch is audited (``pseudonym:mapping``, a count) and a
second one is refused: a copy of the mapping made later is no longer obtainable, and an
API key stolen after the fetch cannot get it. Rotations not yet fetched are fetched
together, from the oldest one's old version to the current one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigie.audit.actions import Action
from vigie.audit.index import received_by
from vigie.audit.models import to_us
from vigie.audit.trail import append
from vigie.errors import ConfigError, Denied, NotFound
from vigie.fingerprint.models import PseudonymRotation
from vigie.fingerprint.pseudonyms import Pseudonymiser, purpose
from vigie.secrets import InstanceSecrets


class MappingFetched(Denied):
    """The mapping of every rotation was already fetched: it is handed out once."""


@dataclass(frozen=True)
class Mapping:
    """The pseudonyms a processor held (``old``) and their replacements (``new``), pairwise."""

    from_version: int
    to_version: int
    pairs: list[tuple[str, str]]


def record_rotation(
    session: Session,
    *,
    processor_id: int,
    from_version: int,
    to_version: int,
    actor: str,
    now: datetime,
) -> PseudonymRotation:
    """Record a rotation of ``processor_id``'s pseudonym key in the caller's transaction."""
    row = PseudonymRotation(
        processor_id=processor_id,
        from_version=from_version,
        to_version=to_version,
        rotated_us=to_us(now),
    )
    session.add(row)
    session.flush()
    append(
        session,
        action=Action.SECRET_ROTATE,
        actor=actor,
        processor_id=processor_id,
        detail={"kind": "pseudonyms", "rotation": row.id, "from": from_version, "to": to_version},
        at=now,
    )
    return row


def fetch_mapping(
    session: Session,
    *,
    secrets: InstanceSecrets,
    processor_id: int,
    key_id: int,
    actor: str,
    now: datetime,
) -> Mapping:
    """The mapping of ``processor_id``'s unfetched rotations, marked fetched and audited.

    Raises :class:`NotFound` if its key was never rotated, :class:`MappingFetched` if every
    rotation's mapping was already fetched, :class:`ConfigError` if this process does not
    hold the new key yet (it loads it within ``secrets_reload_seconds`` of the rotation).
    """
    rows = list(
        session.scalars(
            select(PseudonymRotation)
            .where(PseudonymRotation.processor_id == processor_id)
            .order_by(PseudonymRotation.id)
            .with_for_update()
        )
    )
    if not rows:
        raise NotFound("your pseudonyms were never rotated: there is no mapping to fetch")
    pending = [r for r in rows if r.fetched_us is None]
    if not pending:
        raise MappingFetched("the mapping of your last pseudonym rotation was already fetched")
    current = secrets.current(purpose(processor_id))
    if current.version != pending[-1].to_version:
        raise ConfigError("this server does not hold the new pseudonym key yet; retry shortly")
    old_version = next(
        v
        for v in secrets.all_versions(purpose(processor_id))
        if v.version == pending[0].from_version
    )
    old = Pseudonymiser(secrets, processor_id, version=old_version)
    new = Pseudonymiser(secrets, processor_id)
    people = sorted(received_by(session, processor_id=processor_id))
    pairs = list(zip(old.encode_many(people), new.encode_many(people), strict=True))
    for row in pending:
        row.fetched_us = to_us(now)
        row.fetched_key_id = key_id
    append(
        session,
        action=Action.PSEUDONYM_MAPPING,
        actor=actor,
        processor_id=processor_id,
        key_id=key_id,
        detail={
            "rotations": [r.id for r in pending],
            "from": old.version,
            "to": new.version,
            "pseudonyms": len(pairs),
        },
        at=now,
    )
    return Mapping(from_version=old.version, to_version=new.version, pairs=pairs)
