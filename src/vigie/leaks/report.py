"""The leak report: its JSON form, the affected-people CSV and the HTML page.

A dump is hostile input: the HTML template autoescapes everything, and the CSV writer
neutralises cells that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import orjson
from jinja2 import Environment, PackageLoader, select_autoescape

from vigie.leaks.affected import AffectedPeople

PEOPLE_PER_CHUNK = 50_000  # of the JSON report's per-person lists, serialised at once
AUTHENTIC_SHARE = 0.9  # at least this share of rows are real people: authentic
FABRICATED_SHARE = 0.1  # at most this share: fabricated; in between: mixed


def verdict_for(matched: int, parsed: int, *, unsearched: int = 0) -> str:
    """``authentic``, ``mixed`` or ``fabricated`` from the share of rows linked to people;
    ``undetermined`` when the ``unsearched`` rows (never compared with anyone: crowded
    birth dates) decide it. Those rows are unknown, not evidence either way: a verdict is
    given only when it holds whether none or all of them are registry people."""
    if parsed <= 0:
        return "fabricated"
    unsearched = max(0, min(unsearched, parsed - matched))
    low, high = matched / parsed, (matched + unsearched) / parsed
    if low >= AUTHENTIC_SHARE:
        return "authentic"
    if high <= FABRICATED_SHARE:
        return "fabricated"
    if low > FABRICATED_SHARE and high < AUTHENTIC_SHARE:
        return "mixed"
    return "undetermined"


def counted(n: int, one: str, many: str) -> str:
    """``n`` and the noun that agrees with it: ``1 row``, ``0 rows``, ``1,500 rows``.
    (The report and the CLI are in English; the console's pages use Babel's ngettext.)"""
    return f"{n:,} {one if n == 1 else many}"


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
    affected: AffectedPeople
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
    # Per kind of column: what its values showed (vigie.leaks.evidence.FieldVerdict).
    field_evidence: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Why each real person's row was linked, when asked for (vigie.leaks.explain): file,
    # line, ref, score, confidence and the (field, bits) that made the score; held
    # column-wise by vigie.leaks.explain.Explanations, built one at a time when written.
    explanations: Sequence[dict[str, Any]] = field(default_factory=list)
    # Rows the last fallback could not search: their birth date is too common in the
    # registry (vigie.leaks.linking.Linked); said, never silently dropped.
    crowded_rows: int = 0
    date_cap: int = 0  # the cap they passed (setting leak_fuzzy_date_cap)

    @property
    def affected_subjects(self) -> int:
        return self.affected.real_count

    def linked_text(self) -> str:
        """How many rows were linked, unreadable and canaries (HTML and CLI alike)."""
        return (
            f"{self.matched_rows:,} of {counted(self.rows, 'row', 'rows')} linked to registry "
            f"people ({counted(self.rejected_rows, 'row', 'rows')} could not be parsed; "
            f"{counted(self.canary_rows, 'canary row', 'canary rows')})"
        )

    def affected_text(self) -> str:
        """How many real people the file holds, as a sentence."""
        n = self.affected_subjects
        return f"{counted(n, 'real person', 'real people')} affected."

    def warnings(self) -> list[str]:
        """What the triage could not do, in plain sentences (JSON, HTML and CLI alike)."""
        out = []
        if self.crowded_rows:
            rows = counted(self.crowded_rows, "row", "rows")
            people = counted(self.date_cap, "registry person shares", "registry people share")
            out.append(
                f"{rows} with a name and a birth date matched nobody by name and "
                f"{'was' if self.crowded_rows == 1 else 'were'} compared with nobody born "
                f"that day: more than {people} each of those dates "
                "(setting leak_fuzzy_date_cap). "
                f"{'It is' if self.crowded_rows == 1 else 'They are'} left unlinked and may "
                f"still be {'a registry person' if self.crowded_rows == 1 else 'registry people'}."
            )
        return out

    def field_totals(self) -> dict[str, int]:
        """Affected real people per exposed field, most exposed first."""
        return self.affected.field_totals()

    def as_dict(self, *, people: int | None = None) -> dict[str, Any]:
        """The JSON report; ``people`` keeps only the first people of the per-person lists
        (the HTML report shows 200)."""
        real = list(islice(self.affected.real(), people))
        # One list per exposure shape, shared by everyone with that shape.
        lists = {fields: list(fields) for fields in {fields for _ref, fields, _n in real}}
        return {
            "files": self.files,
            "rows": self.rows,
            "rejected_rows": self.rejected_rows,
            "rejected_samples": self.rejected_samples,
            "crowded_rows": self.crowded_rows,
            "warnings": self.warnings(),
            "columns": self.columns,
            "field_evidence": self.field_evidence,
            "matched_rows": self.matched_rows,
            "canary_rows": self.canary_rows,
            "affected_subjects": self.affected_subjects,
            "canaries_found": self.affected.canary_count,
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
                {"ref": ref, "fields": lists[fields], "rows": rows} for ref, fields, rows in real
            ],
            # ref -> exposed fields, the form vigie.breach.from_leak reads.
            "exposures": {ref: lists[fields] for ref, fields, _rows in real},
            "explanations": list(islice(self.explanations, people)),
            "stored_id": self.stored_id,
        }

    def to_json(self, *, indent: bool = False) -> bytes:
        """The JSON report as UTF-8 (orjson: two million people in seconds, not minutes)."""
        return b"".join(self.json_chunks(indent=indent))

    def json_chunks(self, *, indent: bool = False, explanations: bool = True) -> Iterator[bytes]:
        """The JSON report in pieces: the summary, then the per-person lists
        :data:`PEOPLE_PER_CHUNK` people at a time, so that millions of affected people
        never stand in memory as Python objects all at once. ``explanations=False``
        leaves them out (the stored report: they are stored apart,
        :mod:`vigie.leaks.explain_vault`)."""
        options = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_PASSTHROUGH_DATETIME
        head = self.as_dict(people=0)
        for key in ("affected", "exposures", "explanations", "stored_id"):
            del head[key]
        summary = orjson.dumps(head, default=str, option=options | (orjson.OPT_INDENT_2 * indent))
        sep = b",\n  " if indent else b","
        yield summary.rstrip()[:-1].rstrip() + sep  # the summary's fields, still open
        lists: dict[tuple[str, ...], list[str]] = {}  # one list per exposure shape
        shapes: dict[tuple[str, ...], bytes] = {}  # and its JSON
        for key, (opening, closing) in (("affected", b"[]"), ("exposures", b"{}")):
            yield orjson.dumps(key) + b": " + bytes([opening])
            people = self.affected.real()
            first = True
            while chunk := list(islice(people, PEOPLE_PER_CHUNK)):
                for _ref, fields, _n in chunk:
                    if fields not in lists:
                        lists[fields] = list(fields)
                        shapes[fields] = orjson.dumps(lists[fields])
                if key == "affected":
                    body = affected_json(chunk, shapes)
                else:
                    body = orjson.dumps({r: lists[f] for r, f, _n in chunk})
                yield (b"" if first else b",") + (b"\n    " if indent else b"") + body[1:-1]
                first = False
            yield bytes([closing]) + sep
        yield b'"explanations": ['
        explained = iter(self.explanations if explanations else ())
        first = True
        while batch := list(islice(explained, PEOPLE_PER_CHUNK)):
            body = orjson.dumps(batch, default=str, option=options)
            yield (b"" if first else b",") + (b"\n    " if indent else b"") + body[1:-1]
            first = False
        yield b"]"
        yield sep + b'"stored_id": ' + orjson.dumps(self.stored_id) + b"}"

    def write_json(self, path: Path) -> None:
        with _replacing(path) as part, part.open("wb") as f:
            for chunk in self.json_chunks(indent=True):
                f.write(chunk)
            f.write(b"\n")

    def write_affected_csv(self, path: Path) -> None:
        """One row per affected real person: ``ref`` (the person's), then one column
        ``exposed_<field>`` per exposed field, ``yes`` or empty — ``exposed_ref`` when the
        file held their file number, so no two columns share a name."""
        names = list(self.field_totals())
        # The yes/no cells depend on the person's exposure shape only: build each once.
        cells = [
            ["yes" if n in fields else "" for n in names] for fields in self.affected.shape_fields
        ]
        with _replacing(path) as part, part.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(affected_csv_header(names))
            w.writerows(
                [safe_cell(ref), *cells[shape]] for ref, shape in self.affected.real_shapes()
            )

    def render_html(self) -> str:
        env = Environment(
            loader=PackageLoader("vigie.leaks", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
        )
        data = self.as_dict(people=200)
        return env.get_template("report.html.j2").render(
            r=data,
            more=max(0, self.affected_subjects - 200),
            linked=self.linked_text(),
            affected=self.affected_text(),
        )

    def write_html(self, path: Path) -> None:
        with _replacing(path) as part:
            part.write_text(self.render_html(), encoding="utf-8")


@contextmanager
def _replacing(path: Path) -> Iterator[Path]:
    """A file beside ``path`` that replaces it once written whole: a report cut short
    (an error, the memory bound, a full disk) never destroys the one already there."""
    part = path.with_name(path.name + ".part")
    try:
        yield part
        part.replace(path)
    finally:
        part.unlink(missing_ok=True)


def affected_csv_header(fields: list[str]) -> list[str]:
    """The header of the affected-people CSV: ``ref``, then ``exposed_<field>`` each."""
    return ["ref", *(f"exposed_{name}" for name in fields)]


def safe_cell(value: str) -> str:
    """A CSV cell a spreadsheet will show as text, never run as a formula."""
    if value and value[0] in "=+-@\t\r":
        return "'" + value
    return value


def affected_json(
    people: list[tuple[str, tuple[str, ...], int]], shapes: Mapping[tuple[str, ...], bytes]
) -> bytes:
    """The JSON array of ``people`` as ``{"ref", "fields", "rows"}`` objects: the bytes
    ``orjson`` writes for those dicts, made from each exposure shape's fields serialised
    once (``shapes``) and each ``ref`` encoded by ``orjson`` — without a dict per person,
    whose millions cost 5.3 CPU-s against 1.3 for a report of 2.1 million people."""
    return (
        b"["
        + b",".join(
            [
                b'{"ref":%b,"fields":%b,"rows":%d}' % (orjson.dumps(ref), shapes[fields], rows)
                for ref, fields, rows in people
            ]
        )
        + b"]"
    )
