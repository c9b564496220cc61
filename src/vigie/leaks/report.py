"""The leak report: its JSON form, the affected-people CSV and the HTML page.

A dump is hostile input: the HTML template autoescapes everything, and the CSV writer
neutralises cells that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from vigie.leaks.exposure import Affected

AUTHENTIC_SHARE = 0.9  # at least this share of rows are real people: authentic
FABRICATED_SHARE = 0.1  # at most this share: fabricated; in between: mixed


def verdict_for(matched: int, parsed: int) -> str:
    """``authentic``, ``mixed`` or ``fabricated`` from the share of rows linked to people."""
    if parsed <= 0:
        return "fabricated"
    share = matched / parsed
    if share >= AUTHENTIC_SHARE:
        return "authentic"
    if share <= FABRICATED_SHARE:
        return "fabricated"
    return "mixed"


@dataclass
class LeakReport:
    """Everything an analysis found. ``as_dict`` is the JSON report."""

    files: list[dict[str, Any]]
    rows: int
    rejected_rows: int
    rejected_samples: list[dict[str, Any]]
    columns: list[dict[str, Any]]
    matched_rows: int
    canary_rows: int
    affected: list[Affected]
    verdict: str
    attribution: list[dict[str, Any]]
    attribution_note: str
    controller_side: bool
    leak_window: dict[str, Any] | None
    categories: dict[str, dict[str, int]]
    match_threshold: float
    registry_size: int
    timings: dict[str, float] = field(default_factory=dict)
    stored_id: int | None = None
    # (file, line, ref, confidence) per linked row, when asked for (not in the JSON).
    links: list[tuple[str, int, str, float]] = field(default_factory=list)
    registry_from_snapshot: bool = False

    @property
    def affected_subjects(self) -> int:
        return sum(1 for a in self.affected if not a.is_canary)

    def field_totals(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for a in self.affected:
            if a.is_canary:
                continue
            for f in a.fields:
                totals[f] = totals.get(f, 0) + 1
        return dict(sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])))

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "rows": self.rows,
            "rejected_rows": self.rejected_rows,
            "rejected_samples": self.rejected_samples,
            "columns": self.columns,
            "matched_rows": self.matched_rows,
            "canary_rows": self.canary_rows,
            "affected_subjects": self.affected_subjects,
            "canaries_found": sum(1 for a in self.affected if a.is_canary),
            "verdict": self.verdict,
            "attribution": self.attribution,
            "attribution_note": self.attribution_note,
            "controller_side": self.controller_side,
            "leak_window": self.leak_window,
            "exposed_fields": self.field_totals(),
            "categories": self.categories,
            "match_threshold": self.match_threshold,
            "registry_size": self.registry_size,
            "affected": [
                {"ref": a.ref, "fields": list(a.fields), "rows": a.rows}
                for a in self.affected
                if not a.is_canary
            ],
            # ref -> exposed fields, the form vigie.breach.from_leak reads.
            "exposures": {a.ref: list(a.fields) for a in self.affected if not a.is_canary},
            "stored_id": self.stored_id,
        }

    def write_json(self, path: Path) -> None:
        path.write_text(
            json.dumps(self.as_dict(), indent=2, ensure_ascii=False, default=str) + "\n"
        )

    def write_affected_csv(self, path: Path) -> None:
        """One row per affected real person: ``ref`` and a yes/no column per exposed field."""
        names = list(self.field_totals())
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["ref", *names])
            for a in self.affected:
                if a.is_canary:
                    continue
                w.writerow([safe_cell(a.ref), *("yes" if n in a.fields else "" for n in names)])

    def render_html(self) -> str:
        env = Environment(
            loader=PackageLoader("vigie.leaks", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
        )
        data = self.as_dict()
        data["affected"] = data["affected"][:200]
        return env.get_template("report.html.j2").render(
            r=data, more=max(0, self.affected_subjects - 200)
        )

    def write_html(self, path: Path) -> None:
        path.write_text(self.render_html(), encoding="utf-8")


def safe_cell(value: str) -> str:
    """A CSV cell a spreadsheet will show as text, never run as a formula."""
    if value and value[0] in "=+-@\t\r":
        return "'" + value
    return value
