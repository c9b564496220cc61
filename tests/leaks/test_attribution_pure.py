"""Attribution scoring as pure logic: the false-attribution bound and its decisions."""

from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from vigie.leaks.attribution import Disclosure, attribute, chernoff_tail

REGISTRY = 10_000
FIELDS = frozenset({"given_name", "family_name", "email", "phone"})


def _world(seed: int = 1) -> tuple[list[Disclosure], set[int]]:
    rng = random.Random(seed)
    people = list(range(1, REGISTRY + 1))
    canaries = set(rng.sample(people, 60))
    scopes = [set(rng.sample(people, 1500)) for _ in range(5)]
    disclosures = [
        Disclosure(i + 1, f"p{i + 1}", frozenset(s), FIELDS) for i, s in enumerate(scopes)
    ]
    platform = Disclosure(99, "platform", frozenset(rng.sample(people, 8000)), FIELDS)
    return [*disclosures, platform], canaries


def _run(dump: set[int], disclosures: list[Disclosure], canaries: set[int], **kw: object):
    return attribute(
        linked=dump,
        canaries=dump & canaries,
        fields=kw.get("fields", ["given_name", "email"]),  # type: ignore[arg-type]
        pseudonym_hits=kw.get("hits", {}),  # type: ignore[arg-type]
        disclosures=disclosures,
        registry_size=REGISTRY,
        all_canaries=canaries,
    )


def test_chernoff_bound_is_an_upper_bound() -> None:
    # Exact tail of Binomial(20, 0.1) at 8, against the bound.
    exact = sum(math.comb(20, k) * 0.1**k * 0.9 ** (20 - k) for k in range(8, 21))
    assert exact <= chernoff_tail(8, 20, 0.1) < 1
    assert chernoff_tail(2, 20, 0.1) == 1.0


def test_the_source_comes_first_even_with_a_broad_platform() -> None:
    disclosures, canaries = _world()
    dump = set(random.Random(3).sample(sorted(disclosures[2].subjects), 50))
    result = _run(dump, disclosures, canaries)
    assert [a.processor for a in result.named] == ["p3"]
    assert result.named[0].false_attribution_probability < 1e-6


def test_merged_dumps_name_each_source() -> None:
    disclosures, canaries = _world()
    rng = random.Random(4)
    dump = set(rng.sample(sorted(disclosures[0].subjects), 40))
    dump |= set(rng.sample(sorted(disclosures[3].subjects - disclosures[0].subjects), 40))
    assert {a.processor for a in _run(dump, disclosures, canaries).named} == {"p1", "p4"}


def test_a_field_nobody_received_means_controller_side() -> None:
    disclosures, canaries = _world()
    dump = set(sorted(disclosures[1].subjects)[:80])
    result = _run(dump, disclosures, canaries, fields=["given_name", "nationality"])
    assert not result.named and result.controller_side


def test_pseudonyms_name_their_processor() -> None:
    disclosures, canaries = _world()
    result = _run(set(), disclosures, canaries, hits={4: 3})
    assert result.named[0].processor == "p4"
    assert result.named[0].evidence["pseudonyms"] == 3


def test_identical_recipients_are_flagged_indistinguishable() -> None:
    disclosures, canaries = _world()
    twin = Disclosure(50, "twin", disclosures[2].subjects, FIELDS)
    dump = set(sorted(disclosures[2].subjects)[:60])
    result = _run(dump, [*disclosures, twin], canaries)
    assert result.named[0].processor in {"p3", "twin"}
    assert result.named[0].evidence["indistinguishable_from"]


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=10, max_value=400))
def test_random_registry_samples_name_nobody(seed: int, n: int) -> None:
    """A controller-side extract (random people) never names a processor."""
    disclosures, canaries = _world()
    # A stream of its own: the world is drawn from Random(1).
    dump = set(random.Random(f"dump-{seed}").sample(range(1, REGISTRY + 1), n))
    assert _run(dump, disclosures, canaries).named == []


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=0, max_value=10_000))
def test_order_of_people_does_not_matter(seed: int) -> None:
    """Attribution depends on who is in the file, not on the order of rows."""
    disclosures, canaries = _world()
    people = sorted(disclosures[1].subjects)[:70]
    shuffled = people[:]
    random.Random(seed).shuffle(shuffled)
    a = [
        (x.processor, x.false_attribution_probability)
        for x in _run(set(people), disclosures, canaries).named
    ]
    b = [
        (x.processor, x.false_attribution_probability)
        for x in _run(set(shuffled), disclosures, canaries).named
    ]
    assert a == b


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=0, max_value=10_000))
def test_arrays_of_ids_decide_as_sets_do(seed: int) -> None:
    """Millions of people come as NumPy arrays (repeats allowed): same decision, same
    evidence as with sets."""
    import numpy as np

    disclosures, canaries = _world()
    rng = random.Random(seed)
    dump = set(rng.sample(sorted(disclosures[rng.randrange(5)].subjects), 60))
    dump |= set(rng.sample(sorted(canaries), 3)) | set(rng.sample(range(1, REGISTRY + 1), 30))
    as_sets = _run(dump, disclosures, canaries)
    listed = sorted(dump) * 2  # repeats and order do not matter
    rng.shuffle(listed)
    as_arrays = attribute(
        linked=np.array(listed, dtype=np.int64),
        canaries=np.array(sorted(dump & canaries), dtype=np.int64),
        fields=["given_name", "email"],
        pseudonym_hits={},
        disclosures=disclosures,
        registry_size=REGISTRY,
        all_canaries=np.array(sorted(canaries), dtype=np.int64),
    )
    assert as_arrays == as_sets
    assert as_sets.named  # the source is found
