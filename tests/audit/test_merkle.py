"""The Merkle code against a literal transcription of RFC 6962 section 2.1."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vigie.audit import merkle


def mth(leaves: list[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1 << ((n - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def path(m: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if m < k:
        return [*path(m, leaves[:k]), mth(leaves[k:])]
    return [*path(m - k, leaves[k:]), mth(leaves[:k])]


def subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [mth(leaves)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return [*subproof(m, leaves[:k], complete), mth(leaves[k:])]
    return [*subproof(m - k, leaves[k:], False), mth(leaves[:k])]


def make(n: int) -> list[bytes]:
    return [hashlib.sha256(b"\x00" + i.to_bytes(4, "big")).digest() for i in range(n)]


def sub(leaves: list[bytes]) -> merkle.Subtree:
    return lambda lo, hi: mth(leaves[lo:hi])


@given(st.integers(0, 300))
def test_root_and_frontier_match_the_rfc(n: int) -> None:
    leaves = make(n)
    assert merkle.root(leaves) == mth(leaves)


@given(st.integers(0, 300), st.integers(0, 300))
def test_extend_grows_a_frontier_by_blocks(start: int, more: int) -> None:
    leaves = make(start + more)
    frontier = merkle.frontier_of(leaves[:start])
    merkle.extend(frontier, start, leaves[start:])
    assert frontier == merkle.frontier_of(leaves)
    pushed: list[bytes] = []
    for i, leaf in enumerate(leaves):
        merkle.push(pushed, i, leaf)
    assert pushed == frontier


@given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))))
def test_inclusion_proofs_match_the_rfc_and_verify(case: tuple[int, int]) -> None:
    n, m = case
    leaves = make(n)
    proof = merkle.inclusion_proof(m, n, sub(leaves))
    assert proof == path(m, leaves)
    merkle.verify_inclusion(m, n, leaves[m], proof, mth(leaves))
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(m, n, b"\x00" * 32, proof, mth(leaves))
    if n > 1:
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion((m + 1) % n, n, leaves[m], proof, mth(leaves))
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(m, n, leaves[m], proof[:-1], mth(leaves))
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(m, n, leaves[m], [*proof, proof[0]], mth(leaves))


@given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.integers(1, n), st.just(n))))
def test_consistency_proofs_match_the_rfc_and_verify(case: tuple[int, int]) -> None:
    m, n = case
    leaves = make(n)
    proof = merkle.consistency_proof(m, n, sub(leaves))
    assert proof == ([] if m == n else subproof(m, leaves, True))
    old_root, new_root = mth(leaves[:m]), mth(leaves)
    merkle.verify_consistency(m, n, old_root, new_root, proof)
    if m < n:
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(m, n, new_root, new_root, proof)
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(m, n, old_root, old_root, proof)
        tampered = [bytes(32), *proof[1:]]
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(m, n, old_root, new_root, tampered)


def test_degenerate_cases() -> None:
    assert merkle.fold([]) == merkle.EMPTY_ROOT
    merkle.verify_consistency(0, 5, merkle.EMPTY_ROOT, bytes(32), [])
    with pytest.raises(ValueError):
        merkle.inclusion_proof(3, 3, sub(make(3)))
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(0, 0, bytes(32), [], bytes(32))
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(2, 5, bytes(32), bytes(32), [])
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(5, 5, bytes(32), b"\x01" * 32, [])
