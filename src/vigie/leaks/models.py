"""Tables of vigie.leaks: stored leak analyses, encrypted at rest.

Only counts and the verdict are in clear (to list and purge); the report itself — which
names affected people by ``ref`` and samples rejected rows — is AES-GCM encrypted with a
key derived from the instance secret (see :mod:`vigie.leaks.vault`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String
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
