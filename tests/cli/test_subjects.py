"""`vigie subjects import|export|show` through Typer's runner, on real databases."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.cli.conftest import Invoke, runner
from vigie.cli.app import app
from vigie.synth.people import generate


def _csv(path: Path, n: int = 5, seed: int = 3) -> tuple[Path, list[dict[str, str]]]:
    batch = generate(n, seed=seed)
    rows = [
        {k: ("" if v is None else str(v)) for k, v in batch.record(i).items()} for i in range(n)
    ]
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path, rows


def test_import_then_reimport_then_show(cli: Invoke, tmp_path: Path) -> None:
    path, rows = _csv(tmp_path / "people.csv")
    first = cli(["subjects", "import", str(path)])
    assert first.exit_code == 0, first.output
    assert "5 created" in first.output
    assert "vigie leak prepare" in " ".join(first.output.split())  # triage snapshot stale
    again = cli(["subjects", "import", str(path), "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout) | {"sha256": ""} == {
        "rows": 5, "created": 0, "updated": 0, "unchanged": 5, "sha256": ""
    }  # fmt: skip
    rows[2]["address_line"] = "7 rue Neuve"
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    moved = cli(["subjects", "import", str(path)])
    assert "1 updated" in moved.output and "leak prepare" in " ".join(moved.output.split())
    shown = cli(["subjects", "show", rows[2]["ref"], "--json"])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    assert data["version"] == 2 and data["current"]["address_line"] == "7 rue Neuve"
    assert [v["version"] for v in data["history"]] == [1, 2]
    assert data["history"][0]["valid_to"] == data["history"][1]["valid_from"]
    table = cli(["subjects", "show", rows[2]["ref"]])
    assert table.exit_code == 0 and "7 rue Neuve" in table.output and "v1 until" in table.output


def test_bad_rows_are_listed_one_per_line_and_exit_1(cli: Invoke, tmp_path: Path) -> None:
    path, rows = _csv(tmp_path / "bad.csv")
    rows[0]["nationality"] = "XYZ"
    rows[3]["phone"] = "12"
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    result = cli(["subjects", "import", str(path)])
    assert result.exit_code == 1
    assert "line 2: nationality:" in result.output
    assert "line 5: phone:" in result.output
    assert "nothing imported" in result.output
    assert "Traceback" not in result.output
    empty = cli(["subjects", "export", "--format", "jsonl"])
    assert empty.stdout == ""


def test_export_to_file_and_stdout(cli: Invoke, tmp_path: Path) -> None:
    path, rows = _csv(tmp_path / "people.csv")
    cli(["subjects", "import", str(path)])
    out = tmp_path / "out.jsonl"
    result = cli(["subjects", "export", "--format", "jsonl", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 5 people" in result.output
    assert (out.stat().st_mode & 0o777) == 0o600
    refs = [json.loads(line)["ref"] for line in out.read_text("utf-8").splitlines()]
    assert sorted(refs) == sorted(r["ref"] for r in rows)
    text = cli(["subjects", "export"])
    assert text.stdout.splitlines()[0].startswith("ref,given_name,family_name")
    bad = cli(["subjects", "export", "--format", "xml"])
    assert bad.exit_code == 2


def test_show_unknown_ref_is_one_line(cli: Invoke) -> None:
    result = cli(["subjects", "show", "NOPE"])
    assert result.exit_code == 1
    assert "no person with ref 'NOPE'" in result.output
    assert "Traceback" not in result.output


def test_help_teaches() -> None:
    for args in (["subjects", "--help"], ["subjects", "import", "--help"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0
        assert "import" in result.output
