"""Sealed backup files: round trip, and every change refused."""

from __future__ import annotations

import io
import os

import pytest

from vigie.errors import ConfigError, IntegrityError
from vigie.ops.sealing import CHUNK, BackupKey, open_sealed, seal

KEY = bytes(range(32))


def _sealed(plain: bytes, name: str = "store.sealed") -> bytes:
    out = io.BytesIO()
    seal(io.BytesIO(plain), out, key=KEY, name=name)
    return out.getvalue()


def _open(data: bytes, name: str = "store.sealed") -> bytes:
    return b"".join(open_sealed(io.BytesIO(data), key=KEY, name=name))


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 5])
def test_round_trip_at_chunk_edges(size: int) -> None:
    plain = os.urandom(size)
    data = _sealed(plain)
    if size >= 64:  # a shorter plain text may turn up in random bytes by chance
        assert plain[:64] not in data
    assert _open(data) == plain


def test_a_flipped_byte_a_dropped_chunk_a_truncation_or_another_name_is_refused() -> None:
    plain = os.urandom(2 * CHUNK + 10)
    data = _sealed(plain)
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 1
    block = CHUNK + 16
    head = 15
    dropped = data[:head] + data[head + block :]
    truncated = data[: head + 2 * block]
    for bad in (bytes(flipped), dropped, truncated):
        with pytest.raises(IntegrityError):
            _open(bad)
    with pytest.raises(IntegrityError):
        _open(data, name="secrets/instance.key.sealed")
    with pytest.raises(IntegrityError):
        b"".join(open_sealed(io.BytesIO(data), key=bytes(32), name="store.sealed"))


def test_key_file_must_be_private_and_32_bytes(tmp_path: os.PathLike[str]) -> None:
    from pathlib import Path

    path = Path(tmp_path) / "backup.key"
    path.write_bytes(b"short")
    path.chmod(0o600)
    with pytest.raises(ConfigError, match="32 bytes"):
        BackupKey.from_key_file(path)
    path.write_bytes(b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY=\n")  # base64 of 32 bytes
    assert BackupKey.from_key_file(path).root.reveal() == b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"
    raw = b" \n" + bytes(range(30))  # raw keys are taken as they are, blanks included
    path.write_bytes(raw)
    assert BackupKey.from_key_file(path).root.reveal() == raw
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        BackupKey.from_key_file(path)
    with pytest.raises(ConfigError, match="12 characters"):
        BackupKey.from_passphrase("short", salt=b"0" * 16)


def test_a_sealer_fed_in_pieces_writes_what_seal_writes_and_opens() -> None:
    import io
    import os

    from vigie.ops.sealing import CHUNK, Sealer, open_sealed

    key = os.urandom(32)
    for size in (0, 5, CHUNK, CHUNK + 3, 3 * CHUNK):
        data = os.urandom(size)
        target = io.BytesIO()
        sealer = Sealer(target, key=key, name="f")
        for i in range(0, size, 1000):
            sealer.write(data[i : i + 1000])
        assert sealer.close() == size
        target.seek(0)
        assert b"".join(open_sealed(target, key=key, name="f")) == data
