"""Scope: current assignments under current contracts, and nothing else."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from vigie.processors.directory import get_processor
from vigie.processors.models import Assignment, Contract
from vigie.processors.scope import (
    covering_contract_ids,
    in_scope,
    scope_page,
    scope_size,
    scoped_subject,
)

TODAY = date(2026, 3, 1)
People = Callable[..., list[int]]


def _ids(s: Session) -> tuple[int, int, int, int]:
    lingua = get_processor(s, name="lingua-test").id
    other = get_processor(s, name="other-test").id
    language, civic = (
        s.scalar(select(Contract.id).where(Contract.processor_id == lingua, Contract.name == n))
        for n in ("language", "civic")
    )
    assert language and civic
    return lingua, other, language, civic


def _assign(s: Session, contract_id: int, processor_id: int, subject_id: int,
            starts: date = date(2025, 1, 1), ends: date | None = None) -> None:  # fmt: skip
    s.add(Assignment(contract_id=contract_id, processor_id=processor_id, subject_id=subject_id,
                     starts_on=starts, ends_on=ends))  # fmt: skip


def test_scope_rules(applied: sessionmaker[Session], add_people: People) -> None:
    with applied.begin() as s:
        lingua, other, language, civic = _ids(s)
        add_people(s, 6)
        _assign(s, language, lingua, 1)
        _assign(s, civic, lingua, 1)
        _assign(s, language, lingua, 2, ends=TODAY)  # ends today: still in
        _assign(s, language, lingua, 3, ends=date(2026, 2, 28))  # ended yesterday
        _assign(s, language, lingua, 4, starts=date(2026, 3, 2))  # starts tomorrow
        s.flush()
        assert covering_contract_ids(s, processor_id=lingua, subject_id=1, on=TODAY) == tuple(
            sorted((language, civic))
        )
        assert [sid for sid in range(1, 8) if in_scope(s, processor_id=lingua, subject_id=sid,
                                                        on=TODAY)] == [1, 2]  # fmt: skip
        assert not in_scope(s, processor_id=other, subject_id=1, on=TODAY)
        assert scope_size(s, processor_id=lingua, on=TODAY) == 2
        assert scope_size(s, processor_id=lingua, on=date(2026, 3, 2)) == 2  # 2 out, 4 in
        # The language contract ends in 2030: afterwards only the civic one (open-ended).
        assert scope_size(s, processor_id=lingua, on=date(2031, 1, 1)) == 1
        hit = scoped_subject(s, processor_id=lingua, subject_id=1, on=TODAY)
        assert hit is not None and hit.row["ref"] == "TEST-00000001"
        assert scoped_subject(s, processor_id=lingua, subject_id=3, on=TODAY) is None
        assert scoped_subject(s, processor_id=lingua, subject_id=999, on=TODAY) is None


def test_pages_walk_the_scope_in_order(applied: sessionmaker[Session], add_people: People) -> None:
    with applied.begin() as s:
        lingua, _, language, civic = _ids(s)
        add_people(s, 25)
        for sid in range(1, 26):
            if sid % 5:
                _assign(s, language, lingua, sid)
            if sid % 3 == 0:
                _assign(s, civic, lingua, sid)
        s.flush()
        seen, after = [], 0
        while page := scope_page(s, processor_id=lingua, after_subject_id=after, limit=4,
                                 on=TODAY):  # fmt: skip
            assert len(page) <= 4
            seen += [p.subject_id for p in page]
            after = page[-1].subject_id
            for p in page:
                assert p.row["id"] == p.subject_id
                want = {language} if p.subject_id % 5 else set()
                if p.subject_id % 3 == 0:
                    want.add(civic)
                assert set(p.contract_ids) == want
        assert seen == [sid for sid in range(1, 26) if sid % 5 or sid % 3 == 0]
        assert scope_page(s, processor_id=lingua, after_subject_id=0, limit=0, on=TODAY) == []


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.integers(1, 12), st.booleans(), st.integers(-3, 3), st.integers(-3, 3)),
        max_size=20,
    ),
    st.integers(1, 5),
)
def test_pages_hold_exactly_the_scope(
    applied: sessionmaker[Session],
    add_people: People,
    spec: list[tuple[int, bool, int, int]],
    limit: int,
) -> None:
    s = applied()
    try:
        lingua, _, language, civic = _ids(s)
        add_people(s, 12)
        expected = set()
        for sid, lang, start, end in spec:
            starts = date.fromordinal(TODAY.toordinal() + start)
            ends = date.fromordinal(TODAY.toordinal() + end) if end > -3 else None
            _assign(s, language if lang else civic, lingua, sid, starts, ends)
            if starts <= TODAY and (ends is None or ends >= TODAY):
                expected.add(sid)
        s.flush()
        seen, after = [], 0
        while page := scope_page(s, processor_id=lingua, after_subject_id=after, limit=limit,
                                 on=TODAY):  # fmt: skip
            seen += [p.subject_id for p in page]
            after = page[-1].subject_id
        assert seen == sorted(expected)
        assert scope_size(s, processor_id=lingua, on=TODAY) == len(expected)
        for sid in range(1, 13):
            assert in_scope(s, processor_id=lingua, subject_id=sid, on=TODAY) == (sid in expected)
    finally:
        s.rollback()
        s.close()


def test_page_query_uses_the_covering_index(applied: sessionmaker[Session]) -> None:
    with applied.begin() as s:
        if s.get_bind().dialect.name != "sqlite":
            return  # PostgreSQL plans depend on statistics; SQLite's are deterministic
        plan = s.execute(
            text(
                "EXPLAIN QUERY PLAN SELECT subject_id FROM assignments WHERE processor_id = 1 "
                "AND contract_id IN (1, 2) AND starts_on <= '2026-03-01' AND (ends_on IS NULL "
                "OR ends_on >= '2026-03-01') AND subject_id > 0 GROUP BY subject_id "
                "ORDER BY subject_id LIMIT 100"
            )
        ).all()
        detail = " ".join(str(row[-1]) for row in plan)
        assert "COVERING INDEX ix_assignments_scope" in detail, detail
        assert "TEMP B-TREE" not in detail, detail


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.tuples(st.integers(1, 10), st.booleans(), st.booleans()), max_size=15),
    st.integers(1, 4),
)
def test_walking_the_scope_discloses_only_people_and_fields_it_may(
    applied: sessionmaker[Session],
    add_people: People,
    spec: list[tuple[int, bool, bool]],
    limit: int,
) -> None:
    """End to end in the library: scope page, union of covering contracts, projection."""
    from vigie.policy.view import PSEUDONYM, ContractView, union

    s = applied()
    try:
        lingua, other, language, civic = _ids(s)
        add_people(s, 10)
        allowed: dict[int, set[str]] = {}
        views = {c.id: ContractView.of(c) for c in s.scalars(select(Contract))}
        for sid, lang, current in spec:
            cid = language if lang else civic
            _assign(s, cid, lingua, sid, ends=None if current else date(2026, 1, 1))
            if current:
                allowed.setdefault(sid, set()).update(views[cid].read_fields | {PSEUDONYM})
        s.flush()
        disclosed: dict[int, dict[str, object]] = {}
        after = 0
        while page := scope_page(s, processor_id=lingua, after_subject_id=after, limit=limit,
                                 on=TODAY):  # fmt: skip
            for p in page:
                out = union(views[c] for c in p.contract_ids).project(p.row, pseudonym="x")
                disclosed[p.subject_id] = out
            after = page[-1].subject_id
        assert set(disclosed) == set(allowed)
        for sid, out in disclosed.items():
            assert set(out) <= allowed[sid]
            if "birth_date" in out:  # masked by both contracts (year / month)
                assert isinstance(out["birth_date"], int) or len(str(out["birth_date"])) == 7
        assert scope_page(s, processor_id=other, after_subject_id=0, limit=10, on=TODAY) == []
    finally:
        s.rollback()
        s.close()
