"""Snapshots for the table-driven detector tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vigie.detection.findings import Counts, History, Snapshot

AT = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
HOUR = datetime(2026, 3, 2, 10, tzinfo=UTC)
DAY = datetime(2026, 3, 2, tzinfo=UTC)


def snap(
    *,
    hour: dict[str, int] | None = None,
    day: dict[str, int] | None = None,
    history: History | None = None,
    **kw: object,
) -> Snapshot:
    """A snapshot at 10:30 UTC with the given window counts."""
    return Snapshot(
        processor_id=1,
        key_id=1,
        at=kw.pop("at", AT),  # type: ignore[arg-type]
        hour=Counts(start=HOUR, **(hour or {})),
        day=Counts(start=DAY, **(day or {})),
        history=history,
        **kw,  # type: ignore[arg-type]
    )


def steady(people: int, days: int = 20, *, fresh: int | None = None, canaries: int = 2) -> History:
    """A processor that read ``people`` distinct people a day for ``days`` days."""
    per_day = (people // 10) if fresh is None else fresh
    return History(
        day_people=(people,) * days,
        day_fresh=(per_day,) * days,
        fresh_by_date={(AT - timedelta(days=d)).date(): per_day for d in range(1, days + 1)},
        day_canaries=(canaries,) * days,
        hour_of_day_requests=tuple(100 if 8 <= h < 18 else 0 for h in range(24)),
        expected_per_day=None,
    )
