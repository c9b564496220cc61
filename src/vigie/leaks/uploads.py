"""Leaked files received through the console, kept encrypted until a worker analyses them.

A file is sealed as it arrives (:class:`~vigie.ops.sealing.Sealer`: AES-256-GCM in 1 MiB
chunks under ``secrets.derive("leak-files")``, the stored name bound as associated data)
into ``DATA_DIR/leak-files/<random>.<format>.sealed``; nothing of it touches the disk in
clear. The worker running the ``leak.analyze`` job opens it into the analysis's private
workspace (:func:`opened`), the same place :mod:`vigie.leaks.analyze` keeps its UTF-8
working copies, and the sealed file is deleted when the job ends (:func:`discard`).
Files left behind (a job cancelled before it ran, a worker that never came) are deleted
after ``leak_retention_days`` by :func:`purge_uploads`, which every analysis runs first.

The uploaded file's name is hostile input and may name a person: only its format
(its suffix, from a fixed list) is kept.
"""

from __future__ import annotations

import os
import secrets as random
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePath

from vigie.errors import InvalidInput, NotFound
from vigie.ops.sealing import Sealer, open_sealed
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings

_PURPOSE = "leak-files"
SEALED = ".sealed"
FORMATS = (".csv", ".tsv", ".txt", ".json", ".jsonl", ".ndjson", ".sql", ".xlsx")


class UploadTooLarge(InvalidInput):
    """The file is larger than ``leak_upload_max_bytes``; nothing of it was kept."""


def upload_dir(settings: Settings) -> Path:
    """Where sealed uploads wait for their analysis (mode 0700)."""
    return settings.data_dir / "leak-files"


def file_format(filename: str) -> str:
    """The format suffix of an uploaded file's name (``.csv``…); refuses any other."""
    suffix = PurePath(filename.replace("\\", "/")).suffix.lower()
    if suffix not in FORMATS:
        raise InvalidInput(f"a leaked file must be one of: {', '.join(FORMATS)}")
    return suffix


class Upload:
    """One file being received: bytes go through :meth:`write`, sealed as they come.

    Use as a context manager: leaving it by an exception deletes the partial file;
    :meth:`finish` closes the seal and returns the stored path.
    """

    def __init__(self, settings: Settings, secrets: InstanceSecrets, *, filename: str) -> None:
        suffix = file_format(filename)
        directory = upload_dir(settings)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = directory / f"{random.token_hex(16)}{suffix}{SEALED}"
        self.limit = settings.leak_upload_max_bytes
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._file = os.fdopen(fd, "wb")
        self._sealer = Sealer(self._file, key=secrets.derive(_PURPOSE), name=self.path.name)
        self.size = 0

    def write(self, data: bytes) -> None:
        """Seal ``data``; raise :class:`UploadTooLarge` past the limit."""
        self.size += len(data)
        if self.size > self.limit:
            raise UploadTooLarge(f"the file is larger than the limit of {self.limit} bytes")
        self._sealer.write(data)

    def finish(self) -> Path:
        """Close the seal; the stored file's path (for the job's parameters)."""
        if self.size == 0:
            raise InvalidInput("the file is empty")
        self._sealer.close()
        self._file.close()
        return self.path

    def abort(self) -> None:
        """Stop receiving: the partial file is deleted."""
        if not self._file.closed:
            self._file.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> Upload:
        return self

    def __exit__(self, kind: object, error: object, tb: object) -> None:
        if kind is not None:
            self.abort()
        elif not self._file.closed:
            self._file.close()


def _is_upload(path: Path, settings: Settings) -> bool:
    path = Path(path)
    return path.parent.resolve() == upload_dir(settings).resolve() and path.suffix == SEALED


def _stored(path: Path, settings: Settings) -> Path:
    path = Path(path)
    if not _is_upload(path, settings):
        raise InvalidInput("not a stored leak upload")
    if not path.is_file():
        raise NotFound("the uploaded file is gone (analysed, or purged)")
    return path


@contextmanager
def opened(path: Path, *, settings: Settings, secrets: InstanceSecrets) -> Iterator[Path]:
    """The upload at ``path`` in clear, in a private directory removed on leaving."""
    sealed = _stored(path, settings)
    base = settings.data_dir / "leak-work"
    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    work = Path(tempfile.mkdtemp(prefix="upload-", dir=base))
    work.chmod(0o700)
    try:
        plain = work / ("dump" + PurePath(sealed.name.removesuffix(SEALED)).suffix)
        fd = os.open(plain, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with sealed.open("rb") as source, os.fdopen(fd, "wb") as target:
            for chunk in open_sealed(source, key=secrets.derive(_PURPOSE), name=sealed.name):
                target.write(chunk)
        yield plain
    finally:
        shutil.rmtree(work, ignore_errors=True)


def discard(path: Path, *, settings: Settings) -> None:
    """Delete a stored upload (its analysis ended); a path elsewhere is left alone."""
    if _is_upload(path, settings):
        Path(path).unlink(missing_ok=True)


def purge_uploads(settings: Settings, *, now: float | None = None) -> int:
    """Delete uploads older than ``leak_retention_days``; return how many."""
    directory = upload_dir(settings)
    if not directory.is_dir():
        return 0
    cutoff = (now or time.time()) - settings.leak_retention_days * 86_400
    old = [p for p in directory.glob(f"*{SEALED}") if p.stat().st_mtime < cutoff]
    for path in old:
        path.unlink(missing_ok=True)
    return len(old)
