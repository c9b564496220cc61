"""Attribution: which processor's disclosures a leaked file came from. Pure logic, no I/O.

Evidence, strongest first:

1. **Pseudonyms.** A pseudonym decrypts under exactly one processor's key; a forged
   string passes with probability ``2**-64``. Any pseudonym of processor *p* names *p*.
2. **Received people, canaries included.** Under the null hypothesis "the file did not
   come from *p*", the people in it are no likelier to be among those *p* received than
   people drawn at random from the registry: each is one of *p*'s with probability
   ``q = |received by p| / |registry|`` (computed separately for real people and for
   canaries, which sit in a few processors' scopes only, so ``q`` is tiny for them). The
   probability of seeing at least ``k`` of *p*'s people among ``n`` is bounded by the
   Chernoff bound ``exp(-n·KL(k/n ‖ q))``; real people and canaries multiply. Multiplied
   by the number of processors tested (Bonferroni), this is the reported
   **false-attribution probability**; confidence is one minus it.
3. **Fields.** A processor that never received a field the file holds is not its
   source. When the file holds a field that *no* processor received, the leak happened on
   the controller's side and nobody is named. The file "holds" a field when its values
   say so, not its header: the caller passes only the fields whose columns are evidence
   (:mod:`vigie.leaks.evidence`), so an empty, placeholder or invented column vetoes
   nobody.

Merged files: processors are named greedily — the strongest first, then the others are
tested on the people the named ones did not receive — so each contributor is named.
A processor is named only when its false-attribution probability is below
``MAX_FALSE_ATTRIBUTION`` and it explains at least ``MIN_EXPLAINED`` people.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

MAX_FALSE_ATTRIBUTION = 1e-6
MIN_EXPLAINED = 10
PSEUDONYM_FORGERY = 2.0**-64


@dataclass(frozen=True)
class Disclosure:
    """What one processor received over its history (from the audit served index)."""

    processor_id: int
    name: str
    subjects: frozenset[int]
    fields: frozenset[str]


@dataclass(frozen=True)
class Attribution:
    """One processor named as a source, with its evidence."""

    processor: str
    processor_id: int
    confidence: float
    false_attribution_probability: float
    evidence: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "processor": self.processor,
            "processor_id": self.processor_id,
            "confidence": self.confidence,
            "false_attribution_probability": self.false_attribution_probability,
            "evidence": self.evidence,
        }


@dataclass(frozen=True)
class AttributionResult:
    """Who is named (strongest first) and why nobody else is."""

    named: list[Attribution]
    reason: str  # one sentence for the report
    controller_side: bool = False


def log_chernoff_tail(k: int, n: int, q: float) -> float:
    """Natural log of an upper bound of P[X >= k] for X ~ Binomial(n, q)."""
    if n <= 0 or k <= n * q or q >= 1.0:
        return 0.0
    if q <= 0.0:
        return -math.inf
    a = k / n
    kl = (a * math.log(a / q) if a > 0 else 0.0) + (
        (1 - a) * math.log((1 - a) / (1 - q)) if a < 1 else 0.0
    )
    return -n * kl


def chernoff_tail(k: int, n: int, q: float) -> float:
    """Upper bound of P[X >= k] for X ~ Binomial(n, q)."""
    return math.exp(log_chernoff_tail(k, n, q))


def _ids(values: Collection[int]) -> npt.NDArray[np.int64]:
    """Sorted distinct ids as an int64 array (``np.sort`` and a neighbour test: several
    times faster than ``np.unique`` on millions of ids)."""
    if isinstance(values, np.ndarray):
        ids = np.sort(values.astype(np.int64, copy=False))
    else:
        ids = np.sort(np.fromiter(values, dtype=np.int64, count=len(values)))
    keep = np.ones(len(ids), dtype=np.bool_)
    np.not_equal(ids[1:], ids[:-1], out=keep[1:])
    found: npt.NDArray[np.int64] = ids[keep]
    return found


def _positions(universe: npt.NDArray[np.int64], ids: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
    """Where the sorted ``ids`` that ``universe`` (sorted) holds sit in it, in order."""
    at = np.searchsorted(universe, ids)
    inside = at < len(universe)
    at, ids = at[inside], ids[inside]
    found: npt.NDArray[np.intp] = at[universe[at] == ids]
    return found


@dataclass(frozen=True)
class _Candidate:
    """A processor's received people as positions among the file's people, and its base rates."""

    disclosure: Disclosure
    at: npt.NDArray[np.intp]
    q_real: float
    q_can: float


def attribute(
    *,
    linked: Collection[int],
    canaries: Collection[int],
    fields: Collection[str],
    pseudonym_hits: Mapping[int, int],
    disclosures: Sequence[Disclosure],
    registry_size: int,
    all_canaries: Collection[int],
) -> AttributionResult:
    """Name the processors the leaked people and fields came from, strongest first.

    ``linked`` are the real people found in the file, ``canaries`` the canaries,
    ``fields`` the registry fields the file holds (by their values' evidence),
    ``pseudonym_hits`` processor id -> number of its pseudonyms found, ``all_canaries``
    every canary of the registry. The id collections may be NumPy arrays: millions of
    people are counted with arrays and masks over the file's people, never with Python
    sets.
    """
    every_canary = _ids(all_canaries)
    canary_count = len(every_canary)
    linked_ids, canary_ids = _ids(linked), _ids(canaries)
    # The file's people; a mask each for the real people and the canaries not yet explained.
    people = _ids(np.concatenate([linked_ids, canary_ids]))
    residual_can = np.isin(people, canary_ids, assume_unique=True)
    residual_real = np.isin(people, linked_ids, assume_unique=True) & ~residual_can
    by_id = {d.processor_id: d for d in disclosures}
    wanted = set(fields) - {"pseudonym"}
    received_anywhere = set().union(*(d.fields for d in disclosures)) if disclosures else set()
    named: list[Attribution] = []
    tests = max(len(disclosures), 1)

    for pid, count in sorted(pseudonym_hits.items(), key=lambda kv: -kv[1]):
        known = by_id.get(pid)
        fap = min(1.0, tests * PSEUDONYM_FORGERY)
        named.append(
            Attribution(
                processor=known.name if known else f"processor #{pid}",
                processor_id=pid,
                confidence=1.0 - fap,
                false_attribution_probability=fap,
                evidence={
                    "pseudonyms": count,
                    "model": "pseudonym decrypts under this processor's key",
                },
            )
        )
    if not disclosures:
        reason = "no disclosure history available; only pseudonyms can name a processor"
        return AttributionResult(named, reason)
    missing = sorted(wanted - received_anywhere)
    if missing and not named:
        return AttributionResult(
            [],
            "the file holds fields no processor ever received ("
            + ", ".join(missing)
            + "): a leak on the controller's side",
            controller_side=True,
        )
    if not residual_real.any() and not residual_can.any() and not named:
        return AttributionResult([], "no real person or canary found in the file")

    n_real_pop = max(registry_size - canary_count, 1)
    prepared = []
    for d in disclosures:
        subjects = _ids(d.subjects)
        own_canaries = int(np.count_nonzero(np.isin(subjects, every_canary, assume_unique=True)))
        prepared.append(
            _Candidate(
                disclosure=d,
                at=_positions(people, subjects),
                q_real=min(1.0, (len(subjects) - own_canaries) / n_real_pop),
                q_can=own_canaries / canary_count if canary_count else 1.0,
            )
        )
    by_pid = {c.disclosure.processor_id: c for c in prepared}
    for a in named:
        if a.processor_id in by_pid:
            residual_real[by_pid[a.processor_id].at] = False
            residual_can[by_pid[a.processor_id].at] = False
    named_ids = {a.processor_id for a in named}
    candidates = [c for c in prepared if c.disclosure.processor_id not in named_ids]
    n_real, n_can = int(residual_real.sum()), int(residual_can.sum())
    while candidates and n_real + n_can >= MIN_EXPLAINED:
        best: tuple[float, _Candidate, dict[str, Any]] | None = None
        scored: list[tuple[float, _Candidate]] = []
        for c in candidates:
            d = c.disclosure
            not_received = sorted(wanted - d.fields)
            k_real = int(np.count_nonzero(residual_real[c.at]))
            k_can = int(np.count_nonzero(residual_can[c.at]))
            log_fap = 0.0
            if not not_received:
                log_fap = min(
                    0.0,
                    math.log(tests)
                    + log_chernoff_tail(k_real, n_real, c.q_real)
                    + log_chernoff_tail(k_can, n_can, c.q_can),
                )
            evidence = {
                "people_received": k_real,
                "people_tested": n_real,
                "share_of_registry_received": round(c.q_real, 6),
                "canaries_received": k_can,
                "canaries_tested": n_can,
                "fields_not_received": not_received,
            }
            if k_real + k_can < MIN_EXPLAINED:
                log_fap = 0.0
            explained = k_real + k_can
            if (
                best is None
                or log_fap < best[0]
                or (
                    log_fap == best[0]
                    and explained > best[2]["people_received"] + best[2]["canaries_received"]
                )
            ):
                best = (log_fap, c, evidence)
            scored.append((log_fap, c))
        assert best is not None
        log_fap, chosen, evidence = best
        residual = residual_real | residual_can
        explained_set = chosen.at[residual[chosen.at]]
        twins = sorted(
            other.disclosure.name
            for lf, other in scored
            if other is not chosen
            and math.isclose(lf, log_fap, rel_tol=1e-9, abs_tol=1e-12)
            and np.array_equal(other.at[residual[other.at]], explained_set)
        )
        if twins:
            # Same people, same fit: the evidence cannot tell these processors apart.
            evidence["indistinguishable_from"] = twins
        fap = math.exp(log_fap)
        if log_fap > math.log(MAX_FALSE_ATTRIBUTION):
            break
        evidence["log10_false_attribution_probability"] = round(log_fap / math.log(10), 1)
        d = chosen.disclosure
        named.append(
            Attribution(
                processor=d.name,
                processor_id=d.processor_id,
                confidence=1.0 - fap,
                false_attribution_probability=fap,
                evidence=evidence,
            )
        )
        residual_real[chosen.at] = False
        residual_can[chosen.at] = False
        n_real, n_can = int(residual_real.sum()), int(residual_can.sum())
        candidates = [c for c in candidates if c.disclosure.processor_id != d.processor_id]
    if named:
        left = n_real + n_can
        reason = f"{len(named)} processor(s) named; {left} linked people not explained by them"
    else:
        reason = "evidence too weak to name any processor"
    return AttributionResult(named, reason)
