"""Receiving a leaked file: the multipart body read as a stream, sealed as it arrives.

Starlette's form parser would spool a large file to a temporary file in clear; this one
hands each piece of the file part to a :class:`vigie.leaks.uploads.Upload`, which
encrypts it before it reaches the disk. The routes that take such a body are listed in
:data:`vigie.console.routes.STREAMED`: the guard checks their origin but leaves their
anti-forgery token to :func:`receive_file`, which requires it as a form field *before*
the file (browsers send fields in the form's order) and keeps no byte of a file that
comes without it. One file part only; other fields are small and bounded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from vigie.console import csrf
from vigie.errors import InvalidInput
from vigie.leaks.uploads import Upload

MAX_FIELD = 4096
MAX_FIELDS = 8


@dataclass
class _Part:
    name: str = ""
    filename: str | None = None
    value: bytearray = field(default_factory=bytearray)


@dataclass
class Received:
    """What the form carried: the stored file, its size, and the small fields."""

    path: Path
    size: int
    fields: dict[str, str]


class _Reader:
    """The parser's callbacks: small fields kept, the one file part streamed to ``sink``."""

    def __init__(self, *, token: str, file_field: str, sink: Callable[[str], Upload]) -> None:
        self.token = token
        self.file_field = file_field
        self.sink = sink
        self.fields: dict[str, str] = {}
        self.upload: Upload | None = None
        self.stored: Path | None = None
        self.size = 0
        self.part = _Part()
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._headers: dict[str, bytes] = {}

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_part_begin": self.part_begin,
            "on_header_field": lambda d, s, e: self._header_name.extend(d[s:e]),
            "on_header_value": lambda d, s, e: self._header_value.extend(d[s:e]),
            "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished,
            "on_part_data": self.part_data,
            "on_part_end": self.part_end,
        }

    def part_begin(self) -> None:
        self.part = _Part()
        self._headers = {}

    def header_end(self) -> None:
        self._headers[self._header_name.decode("latin-1").lower()] = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    def headers_finished(self) -> None:
        _kind, options = parse_options_header(self._headers.get("content-disposition", b""))
        self.part.name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        if filename is None:
            if len(self.fields) >= MAX_FIELDS:
                raise InvalidInput("the form has too many fields")
            return
        self.part.filename = filename.decode("utf-8", "replace")
        if self.part.name != self.file_field or self.upload is not None or self.stored:
            raise InvalidInput("the form must carry one file, as its last field")
        # The token must have come first: no byte of the file is kept before it is checked.
        csrf.check_token(self.token, field=self.fields.get(csrf.FIELD), header=None)
        self.upload = self.sink(self.part.filename)

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self.upload is not None:
            self.upload.write(data[start:end])
            return
        self.part.value.extend(data[start:end])
        if len(self.part.value) > MAX_FIELD:
            raise InvalidInput(f"a form field must not exceed {MAX_FIELD} bytes")

    def part_end(self) -> None:
        if self.upload is not None:
            self.size = self.upload.size
            self.stored = self.upload.finish()
            self.upload = None
        elif self.part.filename is None:
            self.fields[self.part.name] = self.part.value.decode("utf-8", "replace")


async def receive_file(
    request: Request, *, token: str, file_field: str, sink: Callable[[str], Upload]
) -> Received:
    """Read the multipart body of ``request``: its fields, and its one file, handed to the
    :class:`Upload` that ``sink`` starts for the file's name.

    Raises :class:`~vigie.console.csrf.Forged` when the file comes without the session's
    token before it, :class:`InvalidInput` for a body that is not one file form (no file,
    two files, a file too large: the partial file is deleted).
    """
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise InvalidInput("send the file as a form (multipart/form-data)")
    reader = _Reader(token=token, file_field=file_field, sink=sink)
    parser = MultipartParser(boundary, reader.callbacks())  # type: ignore[arg-type]
    try:
        async for chunk in request.stream():
            if chunk:
                await run_in_threadpool(parser.write, chunk)
        parser.finalize()
        if reader.upload is not None or reader.stored is None:
            raise InvalidInput("the form carries no complete file")
    except MultipartParseError:
        _abort(reader)
        raise InvalidInput("the form is not valid multipart/form-data") from None
    except BaseException:
        _abort(reader)
        raise
    return Received(path=reader.stored, size=reader.size, fields=reader.fields)


def _abort(reader: _Reader) -> None:
    if reader.upload is not None:
        reader.upload.abort()
        reader.upload = None
    if reader.stored is not None:
        reader.stored.unlink(missing_ok=True)
