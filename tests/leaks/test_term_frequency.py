"""Term-frequency adjustments on and off (setting ``leak_term_frequency``): an agreeing
common value weighs less than a rare one; off, every value of a field weighs the same."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

from sqlalchemy import Engine

from vigie.leaks.analyze import analyze
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings

from .helpers import World, write_csv


def _postal_bits(
    world: World, engine: Engine, settings: Settings, secrets: InstanceSecrets, leak_dir: Path
) -> tuple[dict[str, float], dict[str, int], int]:
    """Bits of the agreeing postal code, per person's ref, with term frequencies as
    ``settings`` says; the number of people per postal code; the registry's size."""
    shared = Counter(p.postal_code for p in world.people.values() if p.postal_code)
    real = [p for i, p in sorted(world.people.items()) if i not in world.canaries]
    common = max(shared, key=lambda c: shared[c])
    rare = min(shared, key=lambda c: shared[c])
    picked = [p for p in real if p.email and p.postal_code == common][:3]
    picked += [p for p in real if p.email and p.postal_code == rare][:1]
    assert len(picked) == 4 and shared[common] > shared[rare]
    path = write_csv(leak_dir / "cp.csv", ["courriel", "CP"],
                     [[p.email or "", p.postal_code or ""] for p in picked])  # fmt: skip
    report = analyze(engine, paths=[path], secrets=secrets, settings=settings, explain=True)
    bits = {e["ref"]: dict(e["terms"])["postal_code"] for e in report.explanations}
    assert set(bits) == {p.ref for p in picked}
    by_ref = {p.ref: shared[p.postal_code or ""] for p in picked}
    return bits, by_ref, report.registry_size


def test_a_common_value_weighs_less_than_a_rare_one(
    world: World, engine: Engine, settings: Settings, secrets: InstanceSecrets, leak_dir: Path
) -> None:
    assert settings.leak_term_frequency  # the default
    bits, shared, n = _postal_bits(world, engine, settings, secrets, leak_dir)
    for ref, b in bits.items():
        # log2(N / f), f the registry people sharing the code (canaries too, N = registry).
        assert math.isclose(b, math.log2(n / shared[ref]), abs_tol=0.35), (b, shared[ref])
    common = [b for ref, b in bits.items() if shared[ref] == max(shared.values())]
    rare = [b for ref, b in bits.items() if shared[ref] == min(shared.values())]
    assert max(common) < min(rare)


def test_off_every_value_of_a_field_weighs_the_same(
    world: World, engine: Engine, settings: Settings, secrets: InstanceSecrets, leak_dir: Path
) -> None:
    off = settings.model_copy(update={"leak_term_frequency": False})
    bits, _shared, n = _postal_bits(world, engine, off, secrets, leak_dir)
    assert len(set(bits.values())) == 1
    # The bits of agreeing by chance: -log2 of the sum over codes of (share of people)².
    counts = Counter(p.postal_code for p in world.people.values() if p.postal_code)
    chance = sum((c / n) ** 2 for c in counts.values())
    assert math.isclose(next(iter(bits.values())), -math.log2(chance), abs_tol=0.35)
