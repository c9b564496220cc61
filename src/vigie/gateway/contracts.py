"""The contracts in force for a processor, as policy views, read once per request.

One indexed query per request; the :class:`~vigie.policy.view.ContractView` built from a
contract's row is cached by the row's *content*, so a contract changed by
``vigie processors apply`` takes effect on the very next request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from sqlalchemy import JSON, Date, Integer, String, bindparam, column, text
from sqlalchemy.orm import Session

from vigie.policy.view import Budget, ContractView


@dataclass(frozen=True)
class InForce:
    """A contract in force: its id, purpose and policy view."""

    id: int
    purpose: str
    view: ContractView


_IN_FORCE = (
    text(
        "SELECT id, purpose, read_fields, masks, write_fields, budget_per_day, "
        "budget_per_30_days, rate_per_minute FROM contracts "
        "WHERE processor_id = :pid AND valid_from <= :on "
        "AND (valid_to IS NULL OR valid_to >= :on) ORDER BY id"
    )
    .bindparams(bindparam("on", type_=Date))
    .columns(
        column("id", Integer),
        column("purpose", String),
        column("read_fields", JSON),
        column("masks", JSON),
        column("write_fields", JSON),
        column("budget_per_day", Integer),
        column("budget_per_30_days", Integer),
        column("rate_per_minute", Integer),
    )
)


@lru_cache(maxsize=1024)
def _view(
    contract_id: int,
    read_fields: tuple[str, ...],
    masks: tuple[tuple[str, str], ...],
    write_fields: tuple[str, ...],
    budget: Budget,
) -> ContractView:
    return ContractView(
        contract_ids=(contract_id,),
        read_fields=frozenset(read_fields),
        masks=dict(masks),
        write_fields=frozenset(write_fields),
        budget=budget,
    )


def in_force(session: Session, *, processor_id: int, on: date) -> list[InForce]:
    """The processor's contracts valid on ``on``, oldest first."""
    out = []
    for row in session.connection().execute(_IN_FORCE, {"pid": processor_id, "on": on}):
        view = _view(
            int(row.id),
            tuple(row.read_fields or ()),
            tuple(sorted((row.masks or {}).items())),
            tuple(row.write_fields or ()),
            Budget(
                per_day=int(row.budget_per_day),
                per_30_days=int(row.budget_per_30_days),
                rate_per_minute=int(row.rate_per_minute),
            ),
        )
        out.append(InForce(id=int(row.id), purpose=str(row.purpose), view=view))
    return out
