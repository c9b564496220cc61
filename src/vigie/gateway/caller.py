"""Who is calling: the key, its processor and the contracts in force, in one statement.

Every request starts here. One indexed statement finds the key by its public prefix and
joins its processor, the processor's contracts valid today and its request count (for
the early, lock-free rate check of :func:`vigie.gateway.budget.early_rate`); then
:func:`vigie.processors.keys.check_key` refuses exactly as
:func:`~vigie.processors.keys.authenticate` does (same checks, same order, the secret
compared in constant time).

Nothing about a key, a processor or a contract is cached across requests: a key revoked
or suspended, a processor suspended or a contract changed by ``vigie processors apply``
takes effect on the very next request. Only pure functions of a row's *content* are
cached (the :class:`~vigie.policy.view.ContractView` built from a contract's fields,
masks and budget), so there is nothing to invalidate. On PostgreSQL a read's scope query
may go along with this statement (``also``), built from a guess that this statement's own
rows then confirm or discard (:mod:`vigie.gateway.ahead`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import Date
from sqlalchemy.orm import Session

from vigie.policy.view import Budget, ContractView
from vigie.processors.keys import KeyState, check_key, split_token
from vigie.store import raw
from vigie.store.base import UTCDateTime


@dataclass(frozen=True)
class InForce:
    """A contract in force: its id, purpose and policy view."""

    id: int
    purpose: str
    view: ContractView


@dataclass(frozen=True)
class Identified:
    """A usable key, its processor's contracts in force today (oldest first), and the
    processor's committed request count in the current minute (``gateway_rates``; None if
    none yet) for the lock-free early rate check."""

    key: KeyState
    contracts: tuple[InForce, ...]
    rate_requests: int | None = None
    also: tuple[list[tuple[Any, ...]], ...] = ()
    """The rows of the statements sent along (``identify(also=...)``), in order."""


# JSON columns are read as their text (CAST works on both databases) so that the parsed
# view can be cached by the text itself.
_CALLER = raw.Statement(
    "SELECT k.id, k.secret_hash, k.expires_at, k.revoked_at IS NOT NULL, "
    "k.suspended_at IS NOT NULL, CAST(k.allowed_cidrs AS TEXT), "
    "p.id, p.name, p.suspended_at IS NOT NULL, "
    "c.id, c.purpose, CAST(c.read_fields AS TEXT), CAST(c.masks AS TEXT), "
    "CAST(c.write_fields AS TEXT), c.budget_per_day, c.budget_per_30_days, c.rate_per_minute, "
    "CASE WHEN r.window_start = ? THEN r.requests END "
    "FROM api_keys k JOIN processors p ON p.id = k.processor_id "
    "LEFT JOIN gateway_rates r ON r.processor_id = k.processor_id "
    "LEFT JOIN contracts c ON c.processor_id = k.processor_id "
    "AND c.valid_from <= ? AND (c.valid_to IS NULL OR c.valid_to >= ?) "
    "WHERE k.prefix = ? ORDER BY c.id",
    params=(UTCDateTime(), Date(), Date()),
    columns=(None, None, UTCDateTime()),
)


@lru_cache(maxsize=1024)
def _cidrs(text: str | None) -> tuple[str, ...]:
    return tuple(orjson.loads(text) or ()) if text else ()


@lru_cache(maxsize=1024)
def _view(
    contract_id: int,
    read_fields: str,
    masks: str | None,
    write_fields: str | None,
    budget: Budget,
) -> ContractView:
    return ContractView(
        contract_ids=(contract_id,),
        read_fields=frozenset(orjson.loads(read_fields) or ()),
        masks=dict(orjson.loads(masks) or {}) if masks else {},
        write_fields=frozenset(orjson.loads(write_fields) or ()) if write_fields else frozenset(),
        budget=budget,
    )


def identify(
    session: Session,
    *,
    token: str | None,
    client_ip: str | None,
    now: datetime,
    also: Sequence[raw.Call] = (),
) -> Identified:
    """The caller behind ``token`` with its contracts in force on ``now``'s date.

    Raises ``Unauthenticated`` or ``Denied`` as :func:`~vigie.processors.keys.check_key`
    does; a usable key of a processor with no contract in force is returned with none.
    ``also``: statements sent in the same round trip (and, on PostgreSQL, the
    transaction's ``BEGIN`` with them); their rows are in :attr:`Identified.also`, read
    whether the key is usable or not, and are the caller's to use or drop.
    """
    prefix, secret = split_token(token)
    on = now.date()
    window = now.replace(second=0, microsecond=0)
    rows, *more = raw.cursor(session).together([(_CALLER, (window, on, on, prefix)), *also])
    state = None
    if rows:
        first = rows[0]
        state = KeyState(
            key_id=int(first[0]),
            processor_id=int(first[6]),
            processor_name=str(first[7]),
            secret_hash=str(first[1]),
            expires_at=first[2],
            revoked=bool(first[3]),
            suspended=bool(first[4]),
            processor_suspended=bool(first[8]),
            allowed_cidrs=_cidrs(first[5]),
        )
    key = check_key(state, secret=secret, client_ip=client_ip, now=now)
    contracts = tuple(
        InForce(
            id=int(row[9]),
            purpose=str(row[10]),
            view=_view(
                int(row[9]),
                row[11],
                row[12],
                row[13],
                Budget(
                    per_day=int(row[14]), per_30_days=int(row[15]), rate_per_minute=int(row[16])
                ),
            ),
        )
        for row in rows
        if row[9] is not None
    )
    requests = rows[0][17]  # rows: check_key refused an unknown key
    return Identified(
        key=key,
        contracts=contracts,
        rate_requests=None if requests is None else int(requests),
        also=tuple(more),
    )
