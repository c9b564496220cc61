"""Pseudonyms are stable, unlinkable across processors, reversible only with the secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vigie.fingerprint.pseudonyms import (
    PSEUDONYM_LENGTH,
    MalformedPseudonym,
    Pseudonymiser,
    identify,
)
from vigie.secrets import ensure_secrets, load_secrets


def _secrets(tmp: Path):  # type: ignore[no-untyped-def]
    ensure_secrets(tmp)
    return load_secrets(tmp)


def test_round_trip_and_unlinkable(tmp_path: Path) -> None:
    s = _secrets(tmp_path)
    a, b = Pseudonymiser(s, 1), Pseudonymiser(s, 2)
    p = a.encode(42)
    assert len(p) == PSEUDONYM_LENGTH and p == a.encode(42)
    assert a.decode(p) == 42
    assert b.decode(p) is None
    assert b.encode(42) != p
    assert identify(s, p, [2, 3, 1]) == (1, 42)


def test_other_instance_cannot_read(tmp_path: Path) -> None:
    p = Pseudonymiser(_secrets(tmp_path / "a"), 1).encode(7)
    assert Pseudonymiser(_secrets(tmp_path / "b"), 1).decode(p) is None


@given(st.text(max_size=40))
def test_garbage_is_rejected(text: str) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from vigie.secrets import InstanceSecrets, Secret

    s = InstanceSecrets(master=Secret(b"k" * 32), signing_key=Ed25519PrivateKey.generate())
    try:
        subject_id = Pseudonymiser(s, 1).decode(text)
    except MalformedPseudonym:
        return
    assert subject_id is None and len(text) == PSEUDONYM_LENGTH


@given(st.lists(st.integers(min_value=0, max_value=2**63 - 1), max_size=50))
def test_encode_many_is_encode_of_each(ids: list[int]) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from vigie.secrets import InstanceSecrets, Secret

    s = InstanceSecrets(master=Secret(b"k" * 32), signing_key=Ed25519PrivateKey.generate())
    p = Pseudonymiser(s, 3)
    assert p.encode_many(ids) == [p.encode(i) for i in ids]


@given(st.integers(min_value=0, max_value=2**63 - 1), st.integers(min_value=0, max_value=2**31))
def test_pseudonym_is_the_base32_of_the_block(subject_id: int, processor_id: int) -> None:
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from vigie.secrets import InstanceSecrets, Secret

    s = InstanceSecrets(master=Secret(b"k" * 32), signing_key=Ed25519PrivateKey.generate())
    p = Pseudonymiser(s, processor_id)
    pseudonym = p.encode(subject_id)
    block = base64.b32decode(pseudonym.upper() + "======")
    assert base64.b32encode(block).decode().rstrip("=").lower() == pseudonym
    assert p.decode(pseudonym) == subject_id


def _test_secrets():  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from vigie.secrets import InstanceSecrets, Secret

    return InstanceSecrets(master=Secret(b"k" * 32), signing_key=Ed25519PrivateKey.generate())


_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"


def _variants(pseudonym: str) -> list[str]:
    """Spellings that base32 decoders read as the same 16 bytes as ``pseudonym``."""
    last = _ALPHABET.index(pseudonym[-1])
    padded = [pseudonym[:-1] + _ALPHABET[last | bits] for bits in (1, 2, 3)]
    cased = {pseudonym.upper(), pseudonym[0].upper() + pseudonym[1:]} - {pseudonym}
    return [*cased, *padded]  # digits have no case: padded variants always differ


@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_only_the_canonical_spelling_is_accepted(subject_id: int) -> None:
    from vigie.fingerprint.pseudonyms import MalformedPseudonym

    p = Pseudonymiser(_test_secrets(), 5)
    pseudonym = p.encode(subject_id)
    assert p.decode(pseudonym) == subject_id
    for variant in _variants(pseudonym):
        with pytest.raises(MalformedPseudonym, match="26 characters"):
            p.decode(variant)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a" * 25,
        "a" * 27,
        "a" * 25 + "b",
        "a" * 25 + "1",
        "a" * 25 + "=",
        "é" * 26,
        "a" * 24 + "\n",
    ],
)
def test_malformed_spellings_raise_without_echoing_the_value(text: str) -> None:
    from vigie.errors import InvalidInput
    from vigie.fingerprint.pseudonyms import MalformedPseudonym

    with pytest.raises(MalformedPseudonym) as caught:
        Pseudonymiser(_test_secrets(), 1).decode(text)
    assert isinstance(caught.value, InvalidInput)
    assert text not in str(caught.value) or text == ""


def test_threads_decode_at_once_with_one_pseudonymiser() -> None:
    """Each thread keeps its own deciphering context (a context is not shared)."""
    from concurrent.futures import ThreadPoolExecutor

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from vigie.secrets import InstanceSecrets, Secret

    s = InstanceSecrets(master=Secret(b"k" * 32), signing_key=Ed25519PrivateKey.generate())
    p = Pseudonymiser(s, 5)
    ids = list(range(1, 2001))
    names = p.encode_many(ids)
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(p.decode, names)) == ids
