"""RFC 6962 / RFC 9162 Merkle tree hashing and proofs, as pure functions over bytes.

Leaves are the events' entry hashes (already ``SHA-256(0x00 || ...)``); an interior node
is ``SHA-256(0x01 || left || right)``; a tree of ``n`` leaves splits at the largest power
of two below ``n``. Proof generation takes a ``subtree(lo, hi)`` callable returning the
hash of leaves ``[lo, hi)`` so the caller decides how leaves are fetched and cached.
Verification raises :class:`ProofError` and never returns False.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()

Subtree = Callable[[int, int], bytes]


class ProofError(ValueError):
    """A Merkle proof does not verify."""


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash of an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """Largest power of two strictly smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def push(frontier: list[bytes], size: int, leaf: bytes) -> None:
    """Add the leaf number ``size`` to ``frontier`` (roots of the perfect subtrees, left first)."""
    h = leaf
    while size & 1:
        h = hashlib.sha256(b"\x01" + frontier.pop() + h).digest()
        size >>= 1
    frontier.append(h)


def extend(frontier: list[bytes], size: int, leaves: Sequence[bytes]) -> None:
    """Add ``leaves`` to the ``frontier`` of a tree of ``size`` leaves, in aligned blocks."""
    i = 0
    while i < len(leaves):
        done = size + i
        block = (done & -done) if done else 1 << (len(leaves) - i).bit_length()
        while block > len(leaves) - i:
            block >>= 1
        h = perfect_root(leaves[i : i + block])
        count = done // block
        while count & 1:
            h = hashlib.sha256(b"\x01" + frontier.pop() + h).digest()
            count >>= 1
        frontier.append(h)
        i += block


def fold(frontier: Sequence[bytes]) -> bytes:
    """The root of the tree whose perfect-subtree roots are ``frontier``."""
    if not frontier:
        return EMPTY_ROOT
    h = frontier[-1]
    for left in reversed(frontier[:-1]):
        h = hashlib.sha256(b"\x01" + left + h).digest()
    return h


def perfect_root(leaves: Sequence[bytes]) -> bytes:
    """Root of a perfect subtree (``len(leaves)`` is a power of two), hashed level by level."""
    sha = hashlib.sha256
    level = list(leaves)
    while len(level) > 1:
        level = [sha(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)]
    return level[0]


def frontier_of(leaves: Sequence[bytes]) -> list[bytes]:
    """The perfect-subtree roots of the tree over ``leaves``, largest (leftmost) first."""
    out: list[bytes] = []
    offset, n = 0, len(leaves)
    for bit in reversed(range(n.bit_length())):
        if n >> bit & 1:
            out.append(perfect_root(leaves[offset : offset + (1 << bit)]))
            offset += 1 << bit
    return out


def root(leaves: Sequence[bytes]) -> bytes:
    """Root of the tree over ``leaves`` (RFC 6962 MTH)."""
    return fold(frontier_of(leaves))


def inclusion_proof(index: int, size: int, subtree: Subtree) -> list[bytes]:
    """Audit path of leaf ``index`` in the tree of ``size`` leaves (RFC 6962 PATH)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    path: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            path.append(subtree(lo + k, hi))
            hi = lo + k
        else:
            path.append(subtree(lo, lo + k))
            lo = lo + k
    path.reverse()
    return path


def consistency_proof(old: int, new: int, subtree: Subtree) -> list[bytes]:
    """Proof that the tree of ``old`` leaves is a prefix of the tree of ``new`` (RFC 6962 PROOF)."""
    if not 0 <= old <= new:
        raise ValueError(f"no consistency proof from {old} to {new}")
    if old in (0, new):
        return []
    proof: list[bytes] = []
    lo, hi, complete = 0, new, True
    m = old
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            proof.append(subtree(lo + k, hi))
            hi = lo + k
        else:
            proof.append(subtree(lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    if not complete:
        proof.append(subtree(lo, hi))
    proof.reverse()
    return proof


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root_: bytes
) -> None:
    """Check ``leaf`` is leaf ``index`` of the tree (``size``, ``root_``); RFC 9162 2.1.3.2."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size}")
    fn, sn = index, size - 1
    h = leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            h = node_hash(p, h)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            h = node_hash(h, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is too short")
    if h != root_:
        raise ProofError("inclusion proof does not lead to the root")


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check tree (``old``, ``old_root``) is a prefix of (``new``, ``new_root``); RFC 9162."""
    if not 0 <= old <= new:
        raise ProofError(f"tree of {old} cannot precede a tree of {new}")
    if old == new:
        if proof:
            raise ProofError("consistency proof between equal sizes must be empty")
        if old_root != new_root:
            raise ProofError("same size, different roots")
        return
    if old == 0:
        if proof:
            raise ProofError("consistency proof from an empty tree must be empty")
        return
    if not proof:
        raise ProofError("consistency proof is empty")
    items = list(proof)
    if old & (old - 1) == 0:  # exact power of two: the old root is the first node
        items.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = items[0]
    for c in items[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if fr != old_root:
        raise ProofError("consistency proof does not lead to the old root")
    if sr != new_root:
        raise ProofError("consistency proof does not lead to the new root")
