"""The people a leak exposes, held column-wise.

A leak of a national registry names millions of people. :class:`AffectedPeople` keeps
them as a few NumPy arrays (id, canary flag, linked rows, exposure *shape*) and their
``ref`` strings, instead of one Python object each; the fields exposed about a person are
one of a handful of shapes (which kinds of column held a value for them), so each shape's
field tuple is stored once. It is still a read-only sequence of :class:`Affected`, ordered
by ``ref``, for code that wants one person at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Affected:
    """One affected person."""

    subject_id: int
    ref: str
    is_canary: bool
    fields: tuple[str, ...]
    rows: int


def _ints(values: npt.ArrayLike) -> npt.NDArray[np.int64]:
    out: npt.NDArray[np.int64] = np.array(values, dtype=np.int64)
    out.flags.writeable = False
    return out


def _flags(values: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    out: npt.NDArray[np.bool_] = np.array(values, dtype=np.bool_)
    out.flags.writeable = False
    return out


class AffectedPeople(Sequence[Affected]):
    """Every affected person, ordered by ``ref``: real people and canaries.

    ``shapes[i]`` indexes ``shape_fields``, the sorted registry fields exposed about
    person ``i``.
    """

    def __init__(
        self,
        *,
        subject_ids: npt.ArrayLike,
        refs: Sequence[str],
        canary: npt.ArrayLike,
        rows: npt.ArrayLike,
        shapes: npt.ArrayLike,
        shape_fields: Sequence[tuple[str, ...]],
    ) -> None:
        self._ids = _ints(subject_ids)
        self._refs = list(refs)
        self._canary = _flags(canary)
        self._rows = _ints(rows)
        self._shapes = _ints(shapes)
        self._shape_fields = tuple(tuple(f) for f in shape_fields)
        n = len(self._ids)
        if not (len(self._refs) == len(self._canary) == len(self._rows) == len(self._shapes) == n):
            raise ValueError("affected people: columns of different lengths")
        if n and not (int(self._shapes.min()) >= 0 and int(self._shapes.max()) < len(shape_fields)):
            raise ValueError("affected people: a shape has no field list")

    @classmethod
    def empty(cls) -> AffectedPeople:
        return cls(subject_ids=[], refs=[], canary=[], rows=[], shapes=[], shape_fields=[])

    def __len__(self) -> int:
        return len(self._ids)

    @overload
    def __getitem__(self, index: int) -> Affected: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Affected]: ...

    def __getitem__(self, index: int | slice) -> Affected | Sequence[Affected]:
        if isinstance(index, slice):
            return [self._person(i) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("affected person index out of range")
        return self._person(index)

    def __iter__(self) -> Iterator[Affected]:
        fields = self._shape_fields
        for sid, ref, canary, n, shape in zip(
            self._ids.tolist(),
            self._refs,
            self._canary.tolist(),
            self._rows.tolist(),
            self._shapes.tolist(),
            strict=True,
        ):
            yield Affected(sid, ref, canary, fields[shape], n)

    def _person(self, i: int) -> Affected:
        return Affected(
            int(self._ids[i]),
            self._refs[i],
            bool(self._canary[i]),
            self._shape_fields[int(self._shapes[i])],
            int(self._rows[i]),
        )

    @property
    def subject_ids(self) -> npt.NDArray[np.int64]:
        """Every affected person's id (read-only array, in ``ref`` order)."""
        return self._ids

    @property
    def refs(self) -> Sequence[str]:
        """Every affected person's ``ref``, in order (shared: do not modify)."""
        return self._refs

    @property
    def canary_ids(self) -> npt.NDArray[np.int64]:
        """The canaries' ids (read-only array)."""
        return self._ids[self._canary]

    @property
    def real_count(self) -> int:
        return len(self) - self.canary_count

    @property
    def canary_count(self) -> int:
        return int(np.count_nonzero(self._canary))

    def real(self) -> Iterator[tuple[str, tuple[str, ...], int]]:
        """``(ref, exposed fields, linked rows)`` of each real person, in ``ref`` order."""
        fields = self._shape_fields
        for ref, canary, n, shape in zip(
            self._refs,
            self._canary.tolist(),
            self._rows.tolist(),
            self._shapes.tolist(),
            strict=True,
        ):
            if not canary:
                yield ref, fields[shape], n

    def real_shapes(self) -> Iterator[tuple[str, int]]:
        """``(ref, shape)`` of each real person, in ``ref`` order."""
        for ref, canary, shape in zip(
            self._refs, self._canary.tolist(), self._shapes.tolist(), strict=True
        ):
            if not canary:
                yield ref, shape

    @property
    def shape_fields(self) -> tuple[tuple[str, ...], ...]:
        return self._shape_fields

    def field_totals(self) -> dict[str, int]:
        """Real people per exposed field, most exposed first (then by name)."""
        per_shape = np.bincount(
            self._shapes[~self._canary], minlength=len(self._shape_fields)
        ).tolist()
        totals: dict[str, int] = {}
        for fields, count in zip(self._shape_fields, per_shape, strict=True):
            if count:
                for f in fields:
                    totals[f] = totals.get(f, 0) + count
        return dict(sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])))
