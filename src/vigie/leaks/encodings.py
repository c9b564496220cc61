"""The encoding of a leaked text file, and repairing text decoded twice (mojibake).

- :func:`detect_encoding`: a BOM, then strict UTF-8, then charset-normalizer; Western
  8-bit text is read as cp1252 (a superset of latin-1 for printable text); text no
  encoding reads sensibly is refused, not guessed;
- :func:`looks_binary`: NUL bytes or too many control characters;
- :func:`repair_text`: UTF-8 read as cp1252/latin-1 (``Ã©``, ``â€™``) is repaired with
  ftfy, only when the text shows it (:func:`shows_mojibake`).
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes


def detect_encoding(sample: bytes) -> str | None:
    """The encoding of a text sample: BOM, then strict UTF-8, then charset-normalizer;
    None when no encoding reads it sensibly (charset-normalizer finds every candidate
    too chaotic): the reader stops rather than guess, since a wrong guess would make
    real people look invented."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 4:  # a character cut by the sample's end
            return "utf-8"
    best = from_bytes(sample[:200_000]).best()
    if best is None:
        return None
    name = best.encoding
    if name in _NON_LATIN:
        return name
    try:
        sample.decode("cp1252")
    except UnicodeDecodeError:
        return name
    return "cp1252"  # Western 8-bit text: cp1252 is a superset of latin-1 for printable text


_NON_LATIN = frozenset(
    {
        "cp1251",
        "koi8_r",
        "koi8_u",
        "cp1256",
        "iso8859_5",
        "iso8859_6",
        "cp1253",
        "cp1255",
        "iso8859_7",
        "iso8859_8",
        "mac_cyrillic",
        "cp866",
        "cp855",
        "big5",
        "gb2312",
        "gb18030",
        "shift_jis",
        "euc_jp",
        "euc_kr",
        "cp949",
        "cp932",
        "utf_16",
        "utf_32",
        "tis_620",
        "cp874",
    }
)


def looks_binary(sample: bytes, encoding: str) -> bool:
    if encoding.startswith("utf-16"):
        return False
    if sample.count(b"\x00") > 0:
        return True
    text = sample.decode(encoding, errors="replace")
    if not text:
        return False
    bad = len(_CONTROL.findall(text))
    return bad / len(text) > 0.05


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffd]")
# Mojibake shows as one of these letters followed by a character of the second set
# (UTF-8 lead and continuation bytes read as cp1252/latin-1).
_MOJIBAKE_LEADS = "ÃÂâ"
_MOJIBAKE_NEXT = re.compile(
    "[\u0080-\u00ff\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u2018-\u203a\u20ac]"
)


def shows_mojibake(text: str) -> bool:
    """Whether a lead letter is followed by a continuation character anywhere in ``text``.

    ``str.find`` jumps from one lead letter to the next (rare in real text: "â" in French)
    instead of a regular expression stepping through every character of a large chunk.
    """
    for lead in _MOJIBAKE_LEADS:
        at = text.find(lead)
        while at != -1:
            if _MOJIBAKE_NEXT.match(text, at + 1):
                return True
            at = text.find(lead, at + 1)
    return False


def repair_text(text: str) -> str:
    """Repair UTF-8 read as cp1252/latin-1 (mojibake) when the text shows it."""
    if not shows_mojibake(text):
        return text
    import ftfy

    return ftfy.fix_text(text, normalization="NFC")
