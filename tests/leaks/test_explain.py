"""Explaining a link: each field's bits, the waterfall, and `vigie leak explain`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from vigie.cli.app import app
from vigie.cli.context import Instance
from vigie.leaks import explain as explain_module
from vigie.leaks.analyze import analyze
from vigie.leaks.explain import Explanations, find, waterfall
from vigie.leaks.linking import P_BIRTH, W_EMAIL
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings

from .helpers import World, write_csv

runner = CliRunner()


def _rows(world: World) -> tuple[list[list[str]], dict[int, str]]:
    """Rows with a name, an e-mail and a birth date; the first with a wrong birth date."""
    ids = sorted(i for i, p in world.people.items() if p.email and not p.is_canary)[:20]
    rows, truth = [], {}
    for n, i in enumerate(ids):
        p = world.people[i]
        birth = p.birth_date.strftime("%d/%m/%Y")
        if n == 0:
            birth = "01/01/1901"  # disagrees; the e-mail and the name still link the row
        rows.append([p.given_name, p.family_name, p.email or "", birth])
        truth[n + 2] = p.ref
    return rows, truth


def test_explain_a_link_field_by_field(
    world: World, engine: Engine, settings: Settings, leak_dir: Path
) -> None:
    rows, truth = _rows(world)
    path = write_csv(leak_dir / "x.csv", ["prenom", "nom", "courriel", "date_naissance"], rows)
    obj = Instance(settings=settings, _engine=engine)
    out, html = leak_dir / "r.json", leak_dir / "r.html"
    result = runner.invoke(
        app,
        ["leak", "analyze", str(path), "--explain", "--json", str(out), "--html", str(html)],
        obj=obj,
    )
    assert result.exit_code == 0, result.output
    page = html.read_text()
    assert "Why rows were linked (first 20)" in page and "email_n +24.0" in page
    report = json.loads(out.read_text())
    explanations = report["explanations"]
    assert {e["line"]: e["ref"] for e in explanations} == truth
    for e in explanations:
        terms = dict(e["terms"])
        assert terms["email_n"] == W_EMAIL  # an identifier: a fixed weight
        assert terms["name_key"] > 0
        assert math.isclose(sum(b for _f, b in e["terms"]), e["score"], abs_tol=0.01)
    wrong = find(explanations, "2")
    assert dict(wrong["terms"])["birth_date"] == -P_BIRTH
    steps = waterfall(wrong, registry_size=report["registry_size"])
    assert steps[0].log2_odds == -math.log2(report["registry_size"])
    assert math.isclose(steps[-1].log2_odds, wrong["score"] + steps[0].bits, abs_tol=0.01)
    assert any(s.label == "birth_date disagrees" and s.bits < 0 for s in steps)

    shown = runner.invoke(app, ["leak", "explain", str(report["stored_id"]), "x.csv:2"], obj=obj)
    assert shown.exit_code == 0, shown.output
    assert "email_n agrees" in shown.output and "birth_date disagrees" in shown.output
    as_json = runner.invoke(
        app, ["leak", "explain", str(report["stored_id"]), "3", "--json"], obj=obj
    )
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output)["ref"] == truth[3]
    missing = runner.invoke(app, ["leak", "explain", str(report["stored_id"]), "999"], obj=obj)
    assert missing.exit_code != 0 and "was not linked" in missing.output


def test_explanations_are_held_column_wise_and_read_in_batches(
    world: World,
    engine: Engine,
    settings: Settings,
    secrets: InstanceSecrets,
    leak_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows, truth = _rows(world)
    a = write_csv(leak_dir / "a.csv", ["prenom", "nom", "courriel", "date_naissance"], rows[:12])
    b = write_csv(leak_dir / "b.csv", ["prenom", "nom", "date_naissance"],
                  [[g, f, d] for g, f, _e, d in rows[12:]])  # fmt: skip
    whole = analyze(engine, paths=[a, b], secrets=secrets, settings=settings, explain=True)
    monkeypatch.setattr(explain_module, "EXPLAIN_BATCH", 3)  # batches across both files
    batched = analyze(engine, paths=[a, b], secrets=secrets, settings=settings, explain=True)
    assert isinstance(batched.explanations, Explanations)
    assert len(batched.explanations) == 20
    # Items as they were when every explanation was a dict, whatever the batch size.
    assert list(batched.explanations) == list(whole.explanations)
    assert [(e["file"], e["line"], e["ref"]) for e in batched.explanations] == [
        *(("a.csv", line, truth[line]) for line in range(2, 14)),
        *(("b.csv", line - 12, truth[line]) for line in range(14, 22)),
    ]
    first, last = batched.explanations[0], batched.explanations[-1]
    assert dict(first["terms"])["birth_date"] == -P_BIRTH  # the wrong birth date
    assert "email_n" not in dict(last["terms"])  # b.csv has no e-mail column
    assert math.isclose(sum(bits for _f, bits in last["terms"]), last["score"], abs_tol=0.01)
    # A few arrays, not a dict per row: under 100 bytes a row here.
    assert batched.explanations.nbytes < 100 * len(batched.explanations)
    assert batched.as_dict(people=2)["explanations"] == [first, batched.explanations[1]]
