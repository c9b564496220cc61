"""Tiles: cached roots of aligned perfect subtrees, so proofs need not rehash every leaf.

Level ``L`` tile ``i`` is the root of leaves ``[i * 2**L, (i + 1) * 2**L)``. Checkpoints
write the tiles their new events complete (levels 8 and 16: 256 and 65,536 leaves);
:class:`Subtrees` then answers ``subtree(lo, hi)`` for the proof functions of
:mod:`vigie.audit.merkle` from tiles, falling back to leaves for the ragged edges.
Tiles are only a cache: proofs are checked against the signed root before they leave.
"""

from __future__ import annotations

from sqlalchemy import Connection

from vigie.audit import merkle

LEVELS = (8, 16)


def _mark(conn: Connection) -> str:
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def leaves(conn: Connection, lo: int, hi: int) -> list[bytes]:
    """Entry hashes of leaves ``[lo, hi)`` (events ``lo + 1`` to ``hi``)."""
    m = _mark(conn)
    rows = conn.exec_driver_sql(
        f"SELECT entry_hash FROM audit_events WHERE seq > {m} AND seq <= {m} ORDER BY seq",
        (lo, hi),
    ).fetchall()
    return [bytes(r[0]) for r in rows]


def _tiles(conn: Connection, level: int, first: int, last: int) -> list[bytes] | None:
    m = _mark(conn)
    rows = conn.exec_driver_sql(
        f"SELECT idx, hash FROM audit_tiles WHERE level = {m} AND idx >= {m} AND idx < {m} "
        "ORDER BY idx",
        (level, first, last),
    ).fetchall()
    if len(rows) != last - first:
        return None
    return [bytes(r[1]) for r in rows]


def record(conn: Connection, size_before: int, size_after: int) -> None:
    """Write the tiles completed by events ``size_before + 1`` to ``size_after``."""
    low = LEVELS[0]
    start = size_before >> low << low
    block = leaves(conn, start, size_after)
    rows: list[tuple[int, int, bytes]] = []
    width = 1 << low
    for offset in range(0, len(block) - width + 1, width):
        rows.append(
            (low, (start + offset) >> low, merkle.perfect_root(block[offset : offset + width]))
        )
    for level in LEVELS[1:]:
        ratio = 1 << (level - low)
        for idx in range(size_before >> level, size_after >> level):
            parts = _tiles(conn, low, idx * ratio, (idx + 1) * ratio)
            known = {i: h for lv, i, h in rows if lv == low}
            if parts is None:
                parts = [known[i] for i in range(idx * ratio, (idx + 1) * ratio) if i in known]
                if len(parts) != ratio:
                    continue
            rows.append((level, idx, merkle.perfect_root(parts)))
    if rows:
        m = _mark(conn)
        conn.exec_driver_sql(
            f"INSERT INTO audit_tiles (level, idx, hash) VALUES ({m}, {m}, {m}) "
            "ON CONFLICT DO NOTHING",
            rows,
        )


class Subtrees:
    """``subtree(lo, hi)`` for proofs, from tiles where they exist, else from leaves."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def __call__(self, lo: int, hi: int) -> bytes:
        pieces: list[bytes] = []
        offset, n = lo, hi - lo
        for bit in reversed(range(n.bit_length())):
            if n >> bit & 1:
                pieces.append(self.perfect(offset, bit))
                offset += 1 << bit
        return merkle.fold(pieces)

    def perfect(self, lo: int, bit: int) -> bytes:
        """Root of the aligned perfect subtree of ``2**bit`` leaves starting at ``lo``."""
        for level in reversed(LEVELS):
            if bit >= level:
                first = lo >> level
                tiles = _tiles(self.conn, level, first, first + (1 << (bit - level)))
                if tiles is not None:
                    return merkle.perfect_root(tiles)
        return merkle.perfect_root(leaves(self.conn, lo, lo + (1 << bit)))
