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

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from vigie.errors import NotFound
from vigie.policy.masks import MASKS, REVEAL_RANK, Mask
from vigie.registry.models import SUBJECT_FIELDS, Subject

PSEUDONYM = "pseudonym"
READABLE_FIELDS: frozenset[str] = frozenset(SUBJECT_FIELDS) | {PSEUDONYM}
"""Names a contract may list in ``read_fields``: the registry's fields plus ``pseudonym``."""
TEMPORAL_FIELDS: frozenset[str] = frozenset(
    c.name for c in Subject.__table__.c if c.name in SUBJECT_FIELDS and c.type.python_type is date
)
"""Registry fields holding a date, sent as ISO text (``YYYY-MM-DD``) unless masked."""


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
    _names: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _convert: tuple[tuple[str, Mask], ...] = field(init=False, repr=False, compare=False)
    _plans: dict[tuple[str, ...], _Plan] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        unknown = self.read_fields - READABLE_FIELDS
        if unknown:
            raise ValueError(f"unknown read field(s): {', '.join(sorted(unknown))}")
        stray = set(self.masks) - self.read_fields
        if stray:
            raise ValueError(f"mask on field(s) not read: {', '.join(sorted(stray))}")
        # The projection plan: every read field in registry order, then the few values to
        # convert (masked fields, and dates as ISO text); the rest are copied as they are.
        names = tuple(name for name in SUBJECT_FIELDS if name in self.read_fields)
        convert = tuple(
            (name, MASKS[self.masks[name]] if name in self.masks else _iso)
            for name in names
            if name in self.masks or name in TEMPORAL_FIELDS
        )
        object.__setattr__(self, "_names", names)
        object.__setattr__(self, "_convert", convert)

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
        # ``type(row) is dict`` first: the gateway's rows, without the (slow) ABC check.
        get: Callable[[str], Any]
        if type(row) is dict or isinstance(row, Mapping):
            get = row.get
        else:
            get = lambda name: getattr(row, name, None)  # noqa: E731
        out: dict[str, Any] = {PSEUDONYM: pseudonym}
        out.update(zip(self._names, map(get, self._names), strict=True))
        for name, convert in self._convert:
            out[name] = convert(out[name])
        return out

    def project_many(
        self,
        names: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        pseudonyms: Sequence[str],
    ) -> list[dict[str, Any]]:
        """:meth:`project` of each row, the rows given as tuples of the columns ``names``.

        Column by column: each column this contract reads is picked once for the whole
        page and each mask or date conversion mapped over its column, then one dict is
        zipped per row (a page of a hundred people costs a fraction of a hundred
        :meth:`project` calls). A read field missing from ``names`` shows as None, as
        :meth:`project` shows a field missing from its row.
        """
        if not rows:
            return []
        names = tuple(names)
        plan = self._plans.get(names)
        if plan is None:
            plan = self._plans[names] = _Plan.of(self, names)
        table = list(zip(*rows, strict=True))
        nothing = (None,) * len(rows)
        columns: list[Sequence[Any]] = [nothing if i is None else table[i] for i in plan.positions]
        for j, convert in plan.convert:
            columns[j] = list(map(convert, columns[j]))
        keys = plan.keys
        return [
            dict(zip(keys, values, strict=True))
            for values in zip(pseudonyms, *columns, strict=True)
        ]


@dataclass(frozen=True)
class _Plan:
    """How :meth:`ContractView.project_many` reads rows of given columns for one view."""

    keys: tuple[str, ...]  # ``pseudonym``, then the read fields in registry order
    positions: tuple[int | None, ...]  # each read field's column in the rows (None: absent)
    convert: tuple[tuple[int, Mask], ...]  # (read field's index, its mask or conversion)

    @classmethod
    def of(cls, view: ContractView, names: tuple[str, ...]) -> _Plan:
        where = {name: i for i, name in enumerate(names)}
        index = {name: j for j, name in enumerate(view._names)}
        return cls(
            keys=(PSEUDONYM, *view._names),
            positions=tuple(where.get(name) for name in view._names),
            convert=tuple((index[name], convert) for name, convert in view._convert),
        )


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


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
