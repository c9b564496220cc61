"""Why each row was linked, stored in encrypted blocks: one row explained, one block opened.

A report made with ``--explain`` holds an explanation per linked row (2.1 million rows:
hundreds of MB of JSON). Kept inside the report, ``vigie leak explain`` would have to
decrypt, inflate and parse all of it to show one row. They are stored apart instead, as
:class:`vigie.leaks.models.ExplanationBlock` rows: a head (block 0: the files, the registry
size, the threshold, how many rows were explained) and blocks of :data:`BLOCK_ROWS`
explanations in file and line order, each deflated and sealed with AES-256-GCM under the
leak vault's key (:mod:`vigie.leaks.vault`), a fresh nonce each, its analysis, number,
creation time and the range of rows it covers bound as associated data (a block moved to
another analysis or given another range does not open). :func:`load_explanation` reads the
head and the one block whose range holds the row asked for: its memory does not grow with
the report.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from vigie.errors import IntegrityError
from vigie.leaks.explain import Explanations
from vigie.leaks.models import ExplanationBlock, StoredAnalysis
from vigie.secrets import InstanceSecrets

PURPOSE = "leak-vault"  # the stored reports' key (vigie.leaks.vault)
BLOCK_ROWS = 5_000


@dataclass(frozen=True)
class Explained:
    """One row's explanation, with what the waterfall needs of its report."""

    entry: dict[str, Any]
    registry_size: int
    match_threshold: float


def _aad(row: ExplanationBlock, created_at: datetime) -> bytes:
    return (
        f"leak-explanations:{row.analysis_id}:{row.seq}:{row.first_file}:{row.first_line}:"
        f"{row.last_file}:{row.last_line}:{created_at.isoformat()}"
    ).encode()


def _seal(key: AESGCM, row: ExplanationBlock, created_at: datetime, plain: bytes) -> None:
    row.nonce = os.urandom(12)
    row.ciphertext = key.encrypt(row.nonce, zlib.compress(plain, 6), _aad(row, created_at))


def _open(row: ExplanationBlock, created_at: datetime, secrets: InstanceSecrets) -> bytes:
    for version in secrets.all_versions(PURPOSE):
        key = secrets.derive_version(PURPOSE, version)
        try:
            sealed = AESGCM(key).decrypt(row.nonce, row.ciphertext, _aad(row, created_at))
        except InvalidTag:
            continue
        return zlib.decompress(sealed)
    raise IntegrityError(
        f"stored leak analysis {row.analysis_id}: explanation block {row.seq} does not decrypt"
    )


def _positions(
    explanations: Sequence[dict[str, Any]], files: Sequence[str]
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(file index, entry)`` in order: entries come in file order, so each file's index
    is the first at or after the previous entry's with that name (names may repeat)."""
    at = 0
    for entry in explanations:
        while at < len(files) and files[at] != entry["file"]:
            at += 1
        if at == len(files):
            raise ValueError("explanations out of file order")
        yield at, entry


def store_explanations(
    session: Session,
    *,
    analysis: StoredAnalysis,
    explanations: Sequence[dict[str, Any]],
    registry_size: int,
    match_threshold: float,
    secrets: InstanceSecrets,
) -> int:
    """Seal ``explanations`` in blocks beside stored ``analysis``; return the blocks
    written (the head included; none when there is nothing to explain)."""
    if not len(explanations):
        return 0
    if isinstance(explanations, Explanations):
        files = explanations.files
    else:  # a plain list, in file order
        files = list(dict.fromkeys(e["file"] for e in explanations))
    key = AESGCM(secrets.derive(PURPOSE))
    head = ExplanationBlock(analysis_id=analysis.id, seq=0, first_file=-1, first_line=-1,
                            last_file=-1, last_line=-1)  # fmt: skip
    summary = {
        "files": list(files),
        "registry_size": registry_size,
        "match_threshold": match_threshold,
        "explained": len(explanations),
    }
    _seal(key, head, analysis.created_at, orjson.dumps(summary))
    session.add(head)
    positions = _positions(explanations, files)
    seq = 0
    while block := list(islice(positions, BLOCK_ROWS)):
        seq += 1
        (first_file, first), (last_file, last) = block[0], block[-1]
        row = ExplanationBlock(
            analysis_id=analysis.id,
            seq=seq,
            first_file=first_file,
            first_line=first["line"],
            last_file=last_file,
            last_line=last["line"],
        )
        plain = orjson.dumps([e for _f, e in block], option=orjson.OPT_SERIALIZE_NUMPY)
        _seal(key, row, analysis.created_at, plain)
        session.add(row)
        session.flush()  # one block at a time in the session, not the whole report
        session.expunge(row)
    session.flush()
    return seq + 1


def load_explanation(
    session: Session, *, analysis: StoredAnalysis, row: str, secrets: InstanceSecrets
) -> Explained | None:
    """The explanation of ``row`` (``LINE`` or ``FILE:LINE``) of stored ``analysis``;
    ``None`` when it was stored without blocks (made without ``--explain``, or before
    explanations were stored apart); ``LookupError`` when the row was not linked."""
    file, _, line = row.rpartition(":")
    try:
        number = int(line)
    except ValueError:
        raise LookupError(f"{row!r} is not a row: give LINE or FILE:LINE") from None
    head_row = session.get(ExplanationBlock, (analysis.id, 0))
    if head_row is None:
        return None
    head = orjson.loads(_open(head_row, analysis.created_at, secrets))
    files: list[str] = head["files"]
    wanted = [i for i, name in enumerate(files) if not file or name == file]
    found: list[dict[str, Any]] = []
    for index in wanted:
        b = ExplanationBlock
        starts_before = or_(b.first_file < index,
                            and_(b.first_file == index, b.first_line <= number))  # fmt: skip
        ends_after = or_(b.last_file > index,
                         and_(b.last_file == index, b.last_line >= number))  # fmt: skip
        block = session.scalars(
            select(b).where(b.analysis_id == analysis.id, b.seq > 0, starts_before, ends_after)
        ).first()
        if block is None:
            continue
        entries = orjson.loads(_open(block, analysis.created_at, secrets))
        found.extend(
            e for e in entries if e["line"] == number and e["file"] == files[index]
        )  # the block may hold several files: this one's row only
        session.expunge(block)
    if not found:
        raise LookupError(f"row {row} was not linked")
    if len(found) > 1:
        names = ", ".join(sorted(e["file"] for e in found))
        raise LookupError(f"line {number} was linked in several files ({names}): give FILE:LINE")
    return Explained(found[0], int(head["registry_size"]), float(head["match_threshold"]))


def explanation_of(
    session: Session, *, analysis_id: int, row: str, secrets: InstanceSecrets
) -> Explained:
    """The explanation of ``row`` of stored analysis ``analysis_id``: from its blocks, or,
    for a report stored before explanations were kept apart, from the whole report.
    ``NotFound`` without such an analysis; ``LookupError`` when the row has none."""
    from vigie.errors import NotFound
    from vigie.leaks.explain import find
    from vigie.leaks.vault import load_report

    analysis = session.get(StoredAnalysis, analysis_id)
    if analysis is None:
        raise NotFound(f"no stored leak analysis {analysis_id} (purged or never stored)")
    explained = load_explanation(session, analysis=analysis, row=row, secrets=secrets)
    if explained is not None:
        return explained
    report = load_report(session, analysis_id=analysis_id, secrets=secrets)
    if not report.get("explanations"):
        raise LookupError(
            f"analysis {analysis_id} was made without --explain: no row of it is explained"
        )
    entry = find(report["explanations"], row)
    return Explained(entry, int(report["registry_size"]), float(report["match_threshold"]))


def rewrap_explanations(session: Session, *, old: InstanceSecrets, new: InstanceSecrets) -> int:
    """Re-seal every explanation block opened with ``old`` under ``new``'s current key,
    a block at a time, in the caller's transaction; return how many."""
    key = AESGCM(new.derive(PURPOSE))
    created = dict(session.execute(select(StoredAnalysis.id, StoredAnalysis.created_at)).all())
    keys = session.execute(
        select(ExplanationBlock.analysis_id, ExplanationBlock.seq).order_by(
            ExplanationBlock.analysis_id, ExplanationBlock.seq
        )
    ).all()
    for analysis_id, seq in keys:
        row = session.get(ExplanationBlock, (analysis_id, seq))
        assert row is not None
        _seal(key, row, created[analysis_id], _open(row, created[analysis_id], old))
        session.flush()
        session.expunge(row)
    return len(keys)
