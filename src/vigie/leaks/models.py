"""Tables of vigie.leaks: stored leak analyses, encrypted at rest.

Only counts and the verdict are in clear (to list and purge); the report itself — which
names affected people by ``ref`` and samples rejected rows — is AES-GCM encrypted with a
key derived from the instance secret (see :mod:`vigie.leaks.vault`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from vigie.store.base import Base, UTCDateTime


class StoredAnalysis(Base):
    """One leak analysis, its report encrypted, purged after ``purge_after``."""

    __tablename__ = "leak_analyses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    purge_after: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    files: Mapped[int] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(Integer)
    matched_rows: Mapped[int] = mapped_column(Integer)
    affected_subjects: Mapped[int] = mapped_column(Integer)
    verdict: Mapped[str] = mapped_column(String(16))
    nonce: Mapped[bytes] = mapped_column(LargeBinary(12))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)


class ExplanationBlock(Base):
    """Why a run of linked rows of a stored analysis was linked, encrypted apart from the
    report so that ``vigie leak explain`` opens one block, never the whole report
    (:mod:`vigie.leaks.explain_vault`). Block ``seq`` 0 is the head (the files, the
    registry size, the threshold); the others cover the linked rows from
    (``first_file``, ``first_line``) to (``last_file``, ``last_line``) in file and line
    order — row positions in the leaked file only, bound to the ciphertext as associated
    data."""

    __tablename__ = "leak_explanation_blocks"

    analysis_id: Mapped[int] = mapped_column(
        ForeignKey("leak_analyses.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_file: Mapped[int] = mapped_column(Integer)
    first_line: Mapped[int] = mapped_column(BigInteger)
    last_file: Mapped[int] = mapped_column(Integer)
    last_line: Mapped[int] = mapped_column(BigInteger)
    nonce: Mapped[bytes] = mapped_column(LargeBinary(12))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
