"""Uploaded leaked files: sealed as they arrive, opened only into the private workspace."""

from __future__ import annotations

import os
import time

import pytest

from vigie.errors import IntegrityError, InvalidInput
from vigie.leaks.uploads import (
    Upload,
    UploadTooLarge,
    discard,
    file_format,
    opened,
    purge_uploads,
    upload_dir,
)
from vigie.ops.sealing import CHUNK
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings


def _receive(settings: Settings, secrets: InstanceSecrets, pieces: list[bytes], name: str):  # type: ignore[no-untyped-def]
    with Upload(settings, secrets, filename=name) as upload:
        for piece in pieces:
            upload.write(piece)
        return upload.finish()


@pytest.mark.parametrize("size", [1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 7])
def test_a_file_in_pieces_of_any_size_opens_as_it_was(
    settings: Settings, secrets: InstanceSecrets, size: int
) -> None:
    content = os.urandom(size)
    pieces = [content[i : i + 65_537] for i in range(0, size, 65_537)]
    stored = _receive(settings, secrets, pieces, "Dupont Marie <script>.CSV")
    assert stored.parent == upload_dir(settings) and stored.name.endswith(".csv.sealed")
    assert "Dupont" not in stored.name
    assert size < 16 or content[:64] not in stored.read_bytes()  # a byte may turn up by chance
    assert oct(stored.stat().st_mode & 0o777) == "0o600"
    with opened(stored, settings=settings, secrets=secrets) as plain:
        assert plain.read_bytes() == content and plain.suffix == ".csv"
        assert plain.parent.parent == settings.data_dir / "leak-work"
    assert not plain.exists() and not plain.parent.exists()
    discard(stored, settings=settings)
    assert not stored.exists()


def test_a_renamed_or_truncated_upload_does_not_open(
    settings: Settings, secrets: InstanceSecrets
) -> None:
    stored = _receive(settings, secrets, [b"a;b\n" * 1000], "x.csv")
    moved = stored.with_name("0" * 32 + ".csv.sealed")
    stored.rename(moved)
    with pytest.raises(IntegrityError), opened(moved, settings=settings, secrets=secrets):
        pass
    moved.write_bytes(moved.read_bytes()[:-5])
    with pytest.raises(IntegrityError), opened(moved, settings=settings, secrets=secrets):
        pass


def test_too_large_empty_or_unknown_formats_keep_nothing(
    settings: Settings, secrets: InstanceSecrets
) -> None:
    settings.leak_upload_max_bytes = 1024
    with pytest.raises(UploadTooLarge):
        _receive(settings, secrets, [b"x" * 1000, b"x" * 25], "x.csv")
    with pytest.raises(InvalidInput, match="empty"):
        _receive(settings, secrets, [], "x.json")
    with pytest.raises(InvalidInput, match="must be one of"):
        file_format("payload.exe")
    with pytest.raises(InvalidInput, match="must be one of"):
        file_format("noextension")
    assert not list(upload_dir(settings).iterdir())


def test_only_stored_uploads_are_opened_or_deleted(
    settings: Settings, secrets: InstanceSecrets
) -> None:
    elsewhere = settings.data_dir / "x.csv.sealed"
    elsewhere.write_bytes(b"keep me")
    discard(elsewhere, settings=settings)
    assert elsewhere.exists()
    with pytest.raises(InvalidInput), opened(elsewhere, settings=settings, secrets=secrets):
        pass


def test_uploads_past_retention_are_purged(settings: Settings, secrets: InstanceSecrets) -> None:
    old = _receive(settings, secrets, [b"a"], "old.csv")
    new = _receive(settings, secrets, [b"b"], "new.csv")
    past = time.time() - (settings.leak_retention_days + 1) * 86_400
    os.utime(old, (past, past))
    assert purge_uploads(settings) == 1
    assert not old.exists() and new.exists()
