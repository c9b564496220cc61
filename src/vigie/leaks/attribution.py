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
3. **Fields.** A processor that never received a field present in the file is not its
   source. When the file holds a field that *no* processor received, the leak happened on
   the controller's side and nobody is named.

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
    ``fields`` the registry fields the file holds, ``pseudonym_hits`` processor id ->
    number of its pseudonyms found, ``all_canaries`` every canary of the registry.
    """
    every_canary = frozenset(all_canaries)
    canary_count = len(every_canary)
    real = set(linked) - set(canaries)
    found_canaries = set(canaries)
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
    if not real and not found_canaries and not named:
        return AttributionResult([], "no real person or canary found in the file")

    n_real_pop = max(registry_size - canary_count, 1)
    residual_real, residual_can = set(real), set(found_canaries)
    for a in named:
        if a.processor_id in by_id:
            residual_real -= by_id[a.processor_id].subjects
            residual_can -= by_id[a.processor_id].subjects
    candidates = [d for d in disclosures if d.processor_id not in {a.processor_id for a in named}]
    while candidates and len(residual_real) + len(residual_can) >= MIN_EXPLAINED:
        best: tuple[float, Disclosure, dict[str, Any]] | None = None
        scored: list[tuple[float, Disclosure]] = []
        for d in candidates:
            not_received = sorted(wanted - d.fields)
            k_real = len(residual_real & d.subjects)
            k_can = len(residual_can & d.subjects)
            q_real = min(1.0, len(d.subjects - every_canary) / n_real_pop)
            q_can = len(d.subjects & every_canary) / canary_count if canary_count else 1.0
            log_fap = 0.0
            if not not_received:
                log_fap = min(
                    0.0,
                    math.log(tests)
                    + log_chernoff_tail(k_real, len(residual_real), q_real)
                    + log_chernoff_tail(k_can, len(residual_can), q_can),
                )
            evidence = {
                "people_received": k_real,
                "people_tested": len(residual_real),
                "share_of_registry_received": round(q_real, 6),
                "canaries_received": k_can,
                "canaries_tested": len(residual_can),
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
                best = (log_fap, d, evidence)
            scored.append((log_fap, d))
        assert best is not None
        log_fap, d, evidence = best
        explained_set = (residual_real | residual_can) & d.subjects
        twins = sorted(
            other.name
            for lf, other in scored
            if other is not d
            and math.isclose(lf, log_fap, rel_tol=1e-9, abs_tol=1e-12)
            and (residual_real | residual_can) & other.subjects == explained_set
        )
        if twins:
            # Same people, same fit: the evidence cannot tell these processors apart.
            evidence["indistinguishable_from"] = twins
        fap = math.exp(log_fap)
        if log_fap > math.log(MAX_FALSE_ATTRIBUTION):
            break
        evidence["log10_false_attribution_probability"] = round(log_fap / math.log(10), 1)
        named.append(
            Attribution(
                processor=d.name,
                processor_id=d.processor_id,
                confidence=1.0 - fap,
                false_attribution_probability=fap,
                evidence=evidence,
            )
        )
        residual_real -= d.subjects
        residual_can -= d.subjects
        candidates = [c for c in candidates if c.processor_id != d.processor_id]
    if named:
        left = len(residual_real) + len(residual_can)
        reason = f"{len(named)} processor(s) named; {left} linked people not explained by them"
    else:
        reason = "evidence too weak to name any processor"
    return AttributionResult(named, reason)
