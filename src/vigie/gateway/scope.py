"""The gateway's scope query: a processor's people in force today, with their rows.

One SQL statement per request joins the processor's current assignments (under its
contracts in force) to the people's current rows, selecting only the columns some
contract may read. A person assigned under several contracts comes back once, with the
ids of all those contracts; the gateway shows them through the union of their views.

Rows are plain tuples on the driver's cursor (:mod:`vigie.store.raw`), never ORM objects:
this is the hot path of every API request. Their values are the driver's own, without
SQLAlchemy's result processing: the only registry columns it would convert are dates,
which SQLite stores as ISO text (``YYYY-MM-DD``, what SQLAlchemy writes) and PostgreSQL's
driver returns as ``date``; the projection (:class:`vigie.policy.view.ContractView`) shows
both as the same ISO text and its date masks take both. Parsing a page's dates into
``date`` objects only to print them again cost about a tenth of a page.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import date
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import Date
from sqlalchemy.orm import Session

from vigie.registry.models import SUBJECT_FIELDS
from vigie.store import raw


class ScopedPerson(NamedTuple):
    """One person in scope: internal id, the contracts covering them, their readable row.

    A named tuple: a page builds a hundred of these per request.
    """

    subject_id: int
    contract_ids: tuple[int, ...]
    row: Mapping[str, Any]


class ScopedPage(NamedTuple):
    """A page of people in scope, column-ready for
    :meth:`~vigie.policy.view.ContractView.project_many`: for each person (in id order) the
    internal id, the contracts covering them and their readable columns (``names``)."""

    names: tuple[str, ...]
    subject_ids: list[int]
    contract_ids: list[tuple[int, ...]]
    rows: list[tuple[Any, ...]]

    def head(self, n: int) -> ScopedPage:
        """The first ``n`` people."""
        return ScopedPage(self.names, self.subject_ids[:n], self.contract_ids[:n], self.rows[:n])


def _names(fields: Iterable[str]) -> tuple[str, ...]:
    if isinstance(fields, frozenset):  # a caller's columns: the same few sets, every request
        return _names_of(fields)
    wanted = set(fields)
    return tuple(name for name in SUBJECT_FIELDS if name in wanted)


@lru_cache(maxsize=256)
def _names_of(fields: frozenset[str]) -> tuple[str, ...]:
    return tuple(name for name in SUBJECT_FIELDS if name in fields)


_IN_FORCE = (
    "a.processor_id = ? AND a.contract_id IN ({list}) "
    "AND a.starts_on <= ? AND (a.ends_on IS NULL OR a.ends_on >= ?)"
)


@lru_cache(maxsize=256)
def _statement(names: tuple[str, ...], kind: str, contracts: int) -> raw.Statement:
    """The scope query selecting ``names`` under ``contracts`` contracts.

    ``kind`` is ``"one"`` (params: pid, contract ids, on, on, sid), ``"page"`` (pid,
    contract ids, on, on, pid, contract ids, on, on, fetch) or ``"after"`` (the same
    with ``after`` before ``fetch``).
    """
    in_force = _IN_FORCE.replace("{list}", ", ".join(["?"] * contracts))
    cols = "".join(f", s.{name}" for name in names)
    sql = (
        f"SELECT a.subject_id, a.contract_id{cols} "
        "FROM assignments a JOIN subjects s ON s.id = a.subject_id "
        f"WHERE {in_force} "
    )
    if kind == "one":
        sql += "AND a.subject_id = ?"
    else:
        # The page's people first (distinct, in id order, one more than asked to know
        # whether more follow), then all their rows: exact whatever the duplicates.
        after = "AND a.subject_id > ? " if kind == "after" else ""
        sql += (
            "AND a.subject_id IN (SELECT DISTINCT a.subject_id FROM assignments a "
            f"WHERE {in_force} {after}ORDER BY a.subject_id LIMIT ?) "
            "ORDER BY a.subject_id, a.contract_id"
        )
    dates = (None, *([None] * contracts), Date(), Date())
    params = dates if kind == "one" else (*dates, *dates)
    # Columns as the driver gives them: no result processor (see the module docstring).
    return raw.Statement(sql, params=params)


def _group(rows: Iterable[Any], names: tuple[str, ...]) -> ScopedPage:
    """One person per subject id (rows come sorted by it), with all their contract ids."""
    ids: list[int] = []
    contracts: list[list[int]] = []
    values: list[tuple[Any, ...]] = []
    last = None
    for row in rows:
        sid = row[0]
        if sid == last:
            contracts[-1].append(int(row[1]))
            continue
        last = sid
        ids.append(int(sid))
        contracts.append([int(row[1])])
        values.append(row[2:])
    return ScopedPage(
        names,
        ids,
        [(c[0],) if len(c) == 1 else tuple(sorted(set(c))) for c in contracts],
        values,
    )


def one_in_scope(
    session: Session,
    *,
    processor_id: int,
    contract_ids: Collection[int],
    subject_id: int,
    on: date,
    fields: Iterable[str],
) -> ScopedPerson | None:
    """The person ``subject_id`` if a current assignment puts them in scope, else None."""
    if not contract_ids:
        return None
    call, names = one_query(
        processor_id=processor_id,
        contract_ids=contract_ids,
        subject_id=subject_id,
        on=on,
        fields=fields,
    )
    return one_from(raw.cursor(session).all(*call), names)


def one_query(
    *,
    processor_id: int,
    contract_ids: Collection[int],
    subject_id: int,
    on: date,
    fields: Iterable[str],
) -> tuple[raw.Call, tuple[str, ...]]:
    """:func:`one_in_scope`'s statement (to send along with others) and the names of the
    columns it reads; :func:`one_from` reads its rows. ``contract_ids`` must not be empty."""
    names = _names(fields)
    contracts = sorted(contract_ids)
    params = (processor_id, *contracts, on, on, subject_id)
    return (_statement(names, "one", len(contracts)), params), names


def one_from(rows: Iterable[Any], names: tuple[str, ...]) -> ScopedPerson | None:
    """The person that :func:`one_query`'s rows describe, or None."""
    found = _group(rows, names)
    if not found.subject_ids:
        return None
    row = dict(zip(names, found.rows[0], strict=True))
    return ScopedPerson(found.subject_ids[0], found.contract_ids[0], row)


def page_in_scope(
    session: Session,
    *,
    processor_id: int,
    contract_ids: Collection[int],
    after: int | None,
    limit: int,
    on: date,
    fields: Iterable[str],
) -> tuple[ScopedPage, bool]:
    """Up to ``limit`` people in scope after internal id ``after``, and whether more follow.

    People come in internal id order (an index walk on the covering scope index).
    """
    if not contract_ids:
        return ScopedPage(_names(fields), [], [], []), False
    call, names = page_query(
        processor_id=processor_id,
        contract_ids=contract_ids,
        after=after,
        limit=limit,
        on=on,
        fields=fields,
    )
    return page_from(raw.cursor(session).all(*call), names, limit=limit)


def page_query(
    *,
    processor_id: int,
    contract_ids: Collection[int],
    after: int | None,
    limit: int,
    on: date,
    fields: Iterable[str],
) -> tuple[raw.Call, tuple[str, ...]]:
    """:func:`page_in_scope`'s statement and the names of its columns (as
    :func:`one_query`); :func:`page_from` reads its rows."""
    names = _names(fields)
    contracts = sorted(contract_ids)
    in_force = (processor_id, *contracts, on, on)
    tail = (limit + 1,) if after is None else (after, limit + 1)
    stmt = _statement(names, "page" if after is None else "after", len(contracts))
    return (stmt, (*in_force, *in_force, *tail)), names


def page_from(
    rows: Iterable[Any], names: tuple[str, ...], *, limit: int
) -> tuple[ScopedPage, bool]:
    """The page that :func:`page_query`'s rows describe, and whether more follow."""
    page = _group(rows, names)
    return page.head(limit), len(page.subject_ids) > limit


_WAS_ASSIGNED = raw.Statement(
    "SELECT 1 FROM assignments WHERE processor_id = ? AND subject_id = ? LIMIT 1"
)


def was_assigned(session: Session, *, processor_id: int, subject_id: int) -> bool:
    """Whether ``subject_id`` was ever assigned to ``processor_id`` (for detectors only)."""
    return raw.cursor(session).one(_WAS_ASSIGNED, (processor_id, subject_id)) is not None
