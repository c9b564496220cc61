"""A leaked file's text, streamed: decoded chunks, bounded lines, UTF-8 for a JSON parser.

The readers of JSON, JSON Lines and SQL dumps (:mod:`vigie.leaks.sources`) never hold a
file whole: :func:`decoded_chunks` reads it :data:`CHUNK_BYTES` at a time through an
incremental decoder (undecodable bytes become U+FFFD); :func:`bounded_lines` cuts the
text into lines and cuts out, unread past ``max_line`` characters, any longer line;
:class:`Utf8Stream` re-encodes the text as UTF-8 for :mod:`ijson`, whatever the file's
encoding, counting the lines it handed out (to say where a parse error is).
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

CHUNK_BYTES = 8 << 20

OnLong = Callable[[int, str], None]  # (line number, its first characters)


def decoded_chunks(
    path: Path, encoding: str, *, on_bytes: Callable[[int], None] | None = None
) -> Iterator[str]:
    """The text of ``path`` in chunks of at most :data:`CHUNK_BYTES` bytes decoded (a
    leading byte-order mark dropped); ``on_bytes`` is told each chunk's size as read."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    first = True
    with path.open("rb") as f:
        while True:
            chunk = f.read(CHUNK_BYTES)
            if on_bytes is not None and chunk:
                on_bytes(len(chunk))
            text = decoder.decode(chunk, final=not chunk)
            if first and text:
                text, first = text.removeprefix("\ufeff"), False
            if text:
                yield text
            if not chunk:
                return


def bounded_lines(chunks: Iterable[str], *, max_line: int, on_long: OnLong) -> Iterator[
    tuple[int, str]
]:  # fmt: skip
    """``(line number, line)`` for every line of the text (``\\r\\n`` or ``\\n``), but a
    line longer than ``max_line`` characters: that one is reported to ``on_long`` and
    skipped without ever being held past ``max_line`` characters and one chunk."""
    carry, line_no, skipping = "", 0, False
    for chunk in chunks:
        if skipping:
            cut = chunk.find("\n")
            if cut < 0:
                continue  # still inside the long line
            chunk, skipping = chunk[cut + 1 :], False
        parts = (carry + chunk).split("\n")
        carry = parts.pop()
        for part in parts:
            line_no += 1
            if len(part) > max_line:
                on_long(line_no, part[:200])
            else:
                yield line_no, part.removesuffix("\r")
        if len(carry) > max_line:
            line_no += 1
            on_long(line_no, carry[:200])
            carry, skipping = "", True
    if carry and not skipping:
        line_no += 1
        yield line_no, carry.removesuffix("\r")


class Utf8Stream:
    """A binary file-like object giving ``chunks`` as UTF-8 (what :mod:`ijson` reads)."""

    def __init__(self, chunks: Iterable[str]) -> None:
        self._chunks = iter(chunks)
        self._buf = b""
        self._at = 0
        self.lines = 1  # the line reached by what was handed out so far

    def read(self, size: int = -1) -> bytes:
        """At most ``size`` bytes (fewer at a chunk's end); ``b""`` at the end."""
        if self._at >= len(self._buf):
            text = next(self._chunks, None)
            if text is None:
                return b""
            self._buf, self._at = text.encode("utf-8", errors="replace"), 0
        end = len(self._buf) if size < 0 else self._at + size
        out = self._buf[self._at : end]
        self._at += len(out)
        self.lines += out.count(b"\n")
        return out
