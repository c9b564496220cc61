"""The triage workspace: DuckDB bounded by ``leak_memory_limit_mb``, progress with time left."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from vigie.leaks.workspace import Meter, duckdb_limit_mb, left, workspace


@pytest.mark.parametrize(("bound", "duckdb_mb"), [(4096, 2048), (1024, 512), (256, 128), (100, 96)])
def test_duckdb_gets_its_share_of_the_bound(bound: int, duckdb_mb: int) -> None:
    assert duckdb_limit_mb(bound) == duckdb_mb


def test_workspace_sets_the_limit_and_a_private_spill_directory(tmp_path: Path) -> None:
    with workspace(tmp_path, prefix="t-", limit_mb=1024) as (con, work):
        limit = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        spill = con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0]
        assert limit.replace(" ", "") in {"512.0MiB", "488.2MiB", "512.0MB", "488.2MB"}, limit
        assert Path(spill) == work / "spill"
        assert work.stat().st_mode & 0o777 == 0o700
        # A grouping larger than the bound spills instead of failing.
        con.execute("SET memory_limit = '64MB'")
        n = con.execute(
            "SELECT count(*) FROM (SELECT i % 3000000 AS k, string_agg(md5(i::VARCHAR), '') "
            "FROM range(3000000) r(i) GROUP BY k)"
        ).fetchall()[0][0]
        assert n == 3_000_000
    assert not work.exists()


@pytest.mark.parametrize(
    ("fraction", "elapsed", "said"),
    [
        (0.5, 10.0, "about 10 s left"),
        (0.25, 60.0, "about 3 min left"),
        (0.999, 5.0, "about 1 s left"),
        (0.0, 10.0, None),  # nothing done yet: no estimate
        (1.0, 10.0, None),
        (0.5, 0.2, None),  # too early to tell
    ],
)
def test_time_left(fraction: float, elapsed: float, said: str | None) -> None:
    assert left(fraction, elapsed) == said


def test_meter_reports_share_done_and_time_left() -> None:
    said: list[str] = []
    done = [0.0]
    meter = Meter(said.append)
    with meter.phase("reading files", lambda: done[0]):
        for share in (0.2, 0.4, 0.6):
            done[0] = share
            time.sleep(0.8)
    assert said[0] == "reading files"
    progress = [s for s in said[1:] if s.startswith("reading files: ")]
    assert progress, said
    assert any("% done, about" in s and "left" in s for s in progress), progress


def test_an_error_raised_by_a_progress_report_stops_the_phase() -> None:
    """A job cancelled while a phase runs: its progress report raises, from the meter's
    thread; the phase raises it when it ends instead of losing it."""

    class Cancelled(Exception):
        pass

    def report(message: str) -> None:
        if ":" in message:  # the periodic reports, not the phase's announcement
            raise Cancelled(message)

    meter = Meter(report)
    with pytest.raises(Cancelled), meter.phase("linking", lambda: 0.5):
        time.sleep(1.5)
