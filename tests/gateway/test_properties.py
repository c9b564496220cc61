"""Invariants over random contracts, assignments and requests (Hypothesis).

For any processor with any contracts and assignments, and any sequence of reads and
page walks:

- no response holds a person outside the caller's scope today;
- no record holds a field that no contract covering *that person* lets it read;
- a masked field is exactly the mask of the value (never more), unless another contract
  covering the person reads it unmasked.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.gateway.conftest import TODAY, World, subject_values
from vigie.fingerprint.pseudonyms import Pseudonymiser
from vigie.policy.masks import MASK_FIELDS, MASKS
from vigie.registry.models import SUBJECT_FIELDS

POOL = 30
_names = itertools.count()

FIELDS = st.lists(st.sampled_from(SUBJECT_FIELDS), min_size=1, max_size=8, unique=True)


@st.composite
def contracts(draw: st.DrawFn) -> dict[str, Any]:
    read = draw(FIELDS)
    masks = {}
    for name in read:
        options = [m for m, allowed in MASK_FIELDS.items() if name in allowed]
        if options and draw(st.booleans()):
            masks[name] = draw(st.sampled_from(options))
    return {"read_fields": ["pseudonym", *read], "masks": masks}


WINDOW = st.tuples(st.integers(-400, 30), st.one_of(st.none(), st.integers(-30, 400)))
ASSIGNMENTS = st.lists(st.tuples(st.integers(1, POOL), WINDOW), min_size=0, max_size=25)
REQUESTS = st.lists(
    st.one_of(
        st.tuples(st.just("read"), st.integers(1, POOL + 5)),
        st.tuples(st.just("list"), st.integers(1, 12)),
    ),
    min_size=1,
    max_size=6,
)


def _expected(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    specs=st.lists(st.tuples(contracts(), ASSIGNMENTS), min_size=1, max_size=2),
    requests=REQUESTS,
)
def test_no_response_leaves_scope_or_contract(world: World, specs, requests) -> None:  # type: ignore[no-untyped-def]
    if not world._next_subject > 1:
        world.people(POOL)
    name = f"p{next(_names)}"
    covering: dict[int, list[dict[str, Any]]] = {}
    for i, (contract, assignments) in enumerate(specs):
        cid = world.processor(name, contract=f"c{i}", **contract)
        for sid, (start, end) in assignments:
            starts = TODAY + timedelta(days=start)
            ends = None if end is None else TODAY + timedelta(days=end)
            world.assign(cid, [sid], starts_on=starts, ends_on=ends)
            if starts <= TODAY and (ends is None or ends >= TODAY):
                covering.setdefault(sid, [])
                if contract not in covering[sid]:
                    covering[sid].append(contract)
    api, token = world.api(), world.key(name)
    pseudo = Pseudonymiser(world.secrets, world.processor_id(name))

    def check(record: dict[str, Any]) -> None:
        sid = pseudo.decode(record["pseudonym"])
        assert sid in covering, "a person outside the scope was disclosed"
        person = subject_values(sid)
        for field, value in record.items():
            if field == "pseudonym":
                continue
            readers = [c for c in covering[sid] if field in c["read_fields"]]
            assert readers, f"{field} is not readable under the contracts covering this person"
            allowed = {
                _expected(MASKS[c["masks"][field]](person[field]))
                if field in c["masks"]
                else _expected(person[field])
                for c in readers
            }
            assert value in allowed, (field, value, allowed)

    for kind, arg in requests:
        if kind == "read":
            r = api.get(f"/api/v1/subjects/{pseudo.encode(arg)}", token=token)
            assert r.status_code == (200 if arg in covering else 404)
            if r.status_code == 200:
                check(r.json())
        else:
            r = api.get("/api/v1/subjects", token=token, params={"limit": arg})
            assert r.status_code == 200
            for record in r.json()["data"]:
                check(record)
            seen = [pseudo.decode(x["pseudonym"]) for x in r.json()["data"]]
            assert seen == sorted(covering)[:arg]
