"""The leak report's verdict, its sentences (plural forms) and its page on a small phone."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page

from tests.browser import serious_violations
from vigie.leaks.affected import AffectedPeople
from vigie.leaks.report import LeakReport, counted, verdict_for

# (matched, parsed, unsearched) -> verdict
VERDICTS = [
    ((95, 100, 0), "authentic"),
    ((90, 100, 10), "authentic"),  # authentic whatever the unsearched rows are
    ((50, 100, 0), "mixed"),
    ((50, 100, 30), "mixed"),
    ((5, 100, 0), "fabricated"),
    ((5, 100, 5), "fabricated"),  # fabricated even if the unsearched rows were people
    ((0, 1, 1), "undetermined"),  # nothing was searched: unknown, not fabricated
    ((0, 100, 100), "undetermined"),
    ((5, 100, 50), "undetermined"),  # fabricated or mixed, as the 50 rows go
    ((50, 100, 45), "undetermined"),  # mixed or authentic
    ((0, 0, 0), "fabricated"),  # an empty file names nobody
    ((0, 10, 99), "undetermined"),  # more unsearched than unlinked rows: capped
]


@pytest.mark.parametrize(("counts", "verdict"), VERDICTS)
def test_the_verdict_holds_whatever_the_unsearched_rows_are(
    counts: tuple[int, int, int], verdict: str
) -> None:
    matched, parsed, unsearched = counts
    assert verdict_for(matched, parsed, unsearched=unsearched) == verdict


def _report(
    *, rows: int, matched: int, rejected: int, canaries: int, people: int, crowded: int, cap: int
) -> LeakReport:
    return LeakReport(
        files=[{"name": "dump_" + "x" * 80 + ".csv", "format": "csv", "rows": rows}],
        rows=rows,
        rejected_rows=rejected,
        rejected_samples=[
            {"file": "dump.csv", "line": 7, "reason": "too many fields", "excerpt": "A" * 300}
        ],
        columns=[
            {
                "file": "dump_" + "x" * 80 + ".csv",
                "header": "adresse_electronique_" + "y" * 40,
                "kind": "email",
                "via": "values",
                "share": 0.98,
                "filled": 1.0,
                "evidence": "evidence: 57 of 60 agree",
            }
            for _ in range(6)
        ],
        matched_rows=matched,
        canary_rows=canaries,
        affected=AffectedPeople(
            subject_ids=list(range(people)),
            refs=[f"OFII-{i:012d}-{'z' * 40}" for i in range(people)],
            canary=[False] * people,
            rows=[1] * people,
            shapes=[0] * people,
            shape_fields=[("email", "family_name", "given_name", "birth_date", "nationality")],
        ),
        verdict=verdict_for(matched, rows, unsearched=crowded),
        attribution=[
            {
                "processor": "Formation Langue & Civique Île-de-France " + "w" * 40,
                "confidence": 0.999999,
                "false_attribution_probability": 1e-12,
                "evidence": {"pseudonyms": 40, "canaries": 2, "fields": "email, nationality"},
            }
        ],
        attribution_note="one processor received every linked person",
        controller_side=False,
        leak_window={
            "earliest": "2026-01-02",
            "latest": None,
            "consistent": True,
            "rows_with_superseded_values": 3,
        },
        categories={"nationality": {"Afghanistan": 3, "Ukraine": 1}},
        match_threshold=0.9,
        registry_size=1500,
        crowded_rows=crowded,
        date_cap=cap,
    )


def test_one_of_each_reads_in_the_singular() -> None:
    one = _report(rows=1, matched=1, rejected=1, canaries=1, people=1, crowded=1, cap=1)
    assert one.linked_text() == (
        "1 of 1 row linked to registry people (1 row could not be parsed; 1 canary row)"
    )
    assert one.affected_text() == "1 real person affected."
    assert one.warnings() == [
        "1 row with a name and a birth date matched nobody by name and was compared with "
        "nobody born that day: more than 1 registry person shares each of those dates "
        "(setting leak_fuzzy_date_cap). It is left unlinked and may still be a registry "
        "person."
    ]
    many = _report(rows=2500, matched=0, rejected=0, canaries=2, people=0, crowded=1200, cap=5000)
    assert many.linked_text() == (
        "0 of 2,500 rows linked to registry people (0 rows could not be parsed; 2 canary rows)"
    )
    assert many.affected_text() == "0 real people affected."
    assert many.warnings()[0].startswith("1,200 rows with a name and a birth date matched")
    assert "more than 5,000 registry people share each" in many.warnings()[0]
    assert "They are left unlinked and may still be registry people." in many.warnings()[0]
    assert [counted(n, "row", "rows") for n in (0, 1, 2)] == ["0 rows", "1 row", "2 rows"]


def test_a_file_of_unsearched_rows_is_undetermined_on_the_page() -> None:
    """Crowded rows are unknown: the page says so instead of "fabricated"."""
    html = _report(
        rows=40, matched=0, rejected=0, canaries=0, people=0, crowded=40, cap=5000
    ).render_html()
    assert "fabricated</span>" not in html
    assert 'class="verdict undetermined">undetermined</span>' in html
    assert "Too many rows were not searched" in html


@pytest.fixture
def context_args(context_args: dict[str, Any]) -> dict[str, Any]:
    """A small phone: 360 CSS pixels wide."""
    return {**context_args, "viewport": {"width": 360, "height": 740}}


def test_the_report_page_fits_a_small_phone(page: Page) -> None:
    """At 360 px the page never scrolls sideways (wide tables scroll in their own
    region, which a keyboard can reach), and axe-core finds nothing serious."""
    report = _report(rows=3, matched=2, rejected=1, canaries=0, people=2, crowded=1, cap=1)
    page.set_content(report.render_html())
    widths = page.evaluate(
        "[document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]"
    )
    assert widths[0] <= widths[1], widths
    assert serious_violations(page) == []
