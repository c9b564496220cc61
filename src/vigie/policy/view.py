"""What one processor may see of one person: the contract's fields, masked, by pseudonym.

A :class:`ContractView` is the policy half of a contract (fields, masks, write fields,
budget), frozen and free of I/O. :meth:`ContractView.project` turns a person's current
row into the dict the processor receives:

- only the contract's ``read_fields``, each masked as the contract says;
- ``pseudonym`` (the per-processor pseudonym) always present, never the internal id;
- ``ref`` (the controller's file number) only if the contract lists it.

A person assigned to a processor under several contracts is shown through the
:func:`union` of those contracts: the union of their fields, and for a field masked
differently the more revealing form (no mask beats ``month`` beats ``year``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from vigie.errors import NotFound
from vigie.policy.masks import MASKS, REVEAL_RANK, Mask
from vigie.registry.models import SUBJECT_FIELDS

PSEUDONYM = "pseudonym"
READABLE_FIELDS: frozenset[str] = frozenset(SUBJECT_FIELDS) | {PSEUDONYM}
"""Names a contract may list in ``read_fields``: the registry's fields plus ``pseudonym``."""


@dataclass(frozen=True)
class Budget:
    """A contract's limits: distinct people per day and per 30 days, requests per minute."""

    per_day: int
    per_30_days: int
    rate_per_minute: int

    def __add__(self, other: Budget) -> Budget:
        return Budget(
            per_day=self.per_day + other.per_day,
            per_30_days=self.per_30_days + other.per_30_days,
            rate_per_minute=self.rate_per_minute + other.rate_per_minute,
        )


@dataclass(frozen=True)
class ContractView:
    """The policy of one contract (or the union of several), ready to project rows."""

    contract_ids: tuple[int, ...]
    read_fields: frozenset[str]
    masks: Mapping[str, str]
    write_fields: frozenset[str]
    budget: Budget
    _plan: tuple[tuple[str, Mask | None], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        unknown = self.read_fields - READABLE_FIELDS
        if unknown:
            raise ValueError(f"unknown read field(s): {', '.join(sorted(unknown))}")
        stray = set(self.masks) - self.read_fields
        if stray:
            raise ValueError(f"mask on field(s) not read: {', '.join(sorted(stray))}")
        plan = tuple(
            (name, MASKS[self.masks[name]] if name in self.masks else None)
            for name in SUBJECT_FIELDS
            if name in self.read_fields
        )
        object.__setattr__(self, "_plan", plan)

    @classmethod
    def of(cls, contract: Any) -> ContractView:
        """The view of a :class:`vigie.processors.models.Contract` (or anything shaped so)."""
        return cls(
            contract_ids=(int(contract.id),),
            read_fields=frozenset(contract.read_fields),
            masks=dict(contract.masks or {}),
            write_fields=frozenset(contract.write_fields or ()),
            budget=Budget(
                per_day=int(contract.budget_per_day),
                per_30_days=int(contract.budget_per_30_days),
                rate_per_minute=int(contract.rate_per_minute),
            ),
        )

    @property
    def shown_fields(self) -> frozenset[str]:
        """Every key a projection can hold (the read fields and ``pseudonym``)."""
        return self.read_fields | {PSEUDONYM}

    def project(self, row: Mapping[str, Any] | Any, *, pseudonym: str) -> dict[str, Any]:
        """The dict this contract lets its processor see of ``row`` (JSON-ready values).

        ``row`` is a mapping (a SQL row's ``_mapping``) or an object with the registry's
        attributes (a :class:`vigie.registry.models.Subject`).
        """
        get = row.get if isinstance(row, Mapping) else lambda name: getattr(row, name, None)
        out: dict[str, Any] = {PSEUDONYM: pseudonym}
        for name, mask in self._plan:
            value = get(name)
            if mask is not None:
                value = mask(value)
            elif isinstance(value, date):
                value = value.isoformat()
            out[name] = value
        return out


def union(views: Iterable[ContractView]) -> ContractView:
    """One view giving what any of ``views`` gives; refuses an empty list (no access).

    Raises :class:`vigie.errors.NotFound` when there is no contract: a person covered by
    none is, for the processor, a person who does not exist.
    """
    views = list(views)
    if not views:
        raise NotFound("no contract covers this person")
    if len(views) == 1:
        return views[0]
    read: set[str] = set()
    write: set[str] = set()
    masks: dict[str, str | None] = {}
    budget: Budget | None = None
    for view in views:
        read |= view.read_fields
        write |= view.write_fields
        budget = view.budget if budget is None else budget + view.budget
        for name in view.read_fields:
            mask = view.masks.get(name)
            if name not in masks or REVEAL_RANK[mask] > REVEAL_RANK[masks[name]]:
                masks[name] = mask
    assert budget is not None
    return ContractView(
        contract_ids=tuple(sorted({cid for v in views for cid in v.contract_ids})),
        read_fields=frozenset(read),
        masks={name: mask for name, mask in masks.items() if mask is not None},
        write_fields=frozenset(write),
        budget=budget,
    )
