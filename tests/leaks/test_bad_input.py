"""Hostile dumps: a zip bomb, a line of tens of megabytes, an encoding nobody can tell.

Triage stops with a message that says where and why, or finishes without the bad part,
within its memory bound — and a report already written is never lost.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import duckdb
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from tests.conftest import SQLITE_ONLY
from vigie.cli.app import app
from vigie.cli.context import Instance
from vigie.errors import InvalidInput
from vigie.leaks import sources
from vigie.leaks.sources import Reader
from vigie.settings import Settings

from .helpers import World, write_csv

runner = CliRunner()


def test_a_zip_bomb_is_refused_before_anything_expands(tmp_path: Path) -> None:
    bomb = tmp_path / "fuite.xlsx"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/sharedStrings.xml", b"\0" * (40 << 20))  # 40 MiB of zeros, ~40 kB
    assert bomb.stat().st_size < 200_000
    with pytest.raises(InvalidInput, match=r"member .xl/sharedStrings\.xml.*zip bomb"):
        Reader(duckdb.connect(), tmp_path).read(bomb)


def test_an_archive_expanding_past_the_total_bound_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "MAX_UNZIPPED_BYTES", 1 << 20)
    many = tmp_path / "many.xlsx"
    rng = random.Random(3)
    with zipfile.ZipFile(many, "w") as z:  # stored, ratio 1:1, but 2 MiB in all
        for i in range(4):
            z.writestr(f"xl/worksheets/sheet{i}.xml", rng.randbytes(512 << 10))
    with pytest.raises(InvalidInput, match="would expand to 2097152 bytes"):
        Reader(duckdb.connect(), tmp_path).read(many)


def test_an_encoding_no_detector_is_sure_of_stops_with_a_clear_message(tmp_path: Path) -> None:
    rng = random.Random(1)
    high = list(range(0x80, 0x100)) + list(b"aeiou")
    rows = [b";".join(bytes(rng.choice(high) for _ in range(6)) for _ in range(3))
            for _ in range(300)]  # fmt: skip
    path = tmp_path / "garbled.csv"
    path.write_bytes(b"nom;prenom;ville\r\n" + b"\r\n".join(rows))
    with pytest.raises(InvalidInput, match=r"garbled\.csv: no text encoding reads this file"):
        Reader(duckdb.connect(), tmp_path).read(path)
    french = tmp_path / "cp1252.csv"  # ordinary Western 8-bit text is still read
    french.write_bytes("Nom;Prénom\r\nLefèvre;Benoît\r\n".encode("cp1252"))
    (source,) = Reader(duckdb.connect(), tmp_path).read(french)
    assert source.encoding == "cp1252" and source.rows == 1


# SQLite only: the bound is the dump reader's, whatever the database; `leak analyze`
# reading the registry from PostgreSQL: test_analyze.py::test_cli_analyze_list_purge.
@SQLITE_ONLY
@pytest.mark.skipif(not Path("/usr/bin/time").exists(), reason="needs GNU time for peak RSS")
def test_a_50_mb_line_is_cut_out_within_the_memory_bound(
    world: World, engine: Engine, settings: Settings, leak_dir: Path
) -> None:
    ids = sorted(i for i, p in world.people.items() if p.email and not p.is_canary)[:30]
    rows = [[world.people[i].given_name, world.people[i].family_name, world.people[i].email or ""]
            for i in ids]  # fmt: skip
    path = write_csv(leak_dir / "long.csv", ["prenom", "nom", "courriel"], rows)
    with path.open("a", encoding="utf-8") as f:
        f.write("x" * (50 << 20) + "\n")  # one 50 MB line, past a 10 MB line limit
        f.write(";".join(rows[0]) + "\n")
    out = leak_dir / "r.json"
    out.write_text("a report already written\n")
    env = {
        **os.environ,
        "VIGIE_DATA_DIR": str(settings.data_dir),
        "VIGIE_DATABASE_URL": settings.resolved_database_url,
        "VIGIE_LEAK_MEMORY_LIMIT_MB": "512",
        "VIGIE_LEAK_MAX_LINE_CHARS": "10000000",
    }
    vigie = shutil.which("vigie", path=str(Path(sys.executable).parent))
    assert vigie is not None
    run = subprocess.run(
        ["/usr/bin/time", "-f", "peak_kb=%M", vigie, "leak", "analyze", str(path),
         "--json", str(out)],
        env=env, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    peak_mb = int(re.findall(r"peak_kb=(\d+)", run.stderr)[-1]) / 1024
    assert peak_mb < 512, f"peak RSS {peak_mb:.0f} MB past the 512 MB bound"
    report = json.loads(out.read_text())
    assert report["rejected_rows"] == 1
    assert "longer than 10000000 characters" in report["rejected_samples"][0]["reason"]
    assert report["matched_rows"] == 31  # the 30 rows, and the one after the long line

    # A second analysis that fails (the file is gone) leaves the first report whole.
    path.unlink()
    obj = Instance(settings=settings, _engine=engine)
    failed = runner.invoke(app, ["leak", "analyze", str(path), "--json", str(out)], obj=obj)
    assert failed.exit_code != 0 and "no such file" in failed.output
    assert json.loads(out.read_text())["matched_rows"] == 31
    assert not list(leak_dir.glob("*.part"))
