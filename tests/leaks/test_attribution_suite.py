"""The attribution suite: leaks built from what processors actually received.

Each case writes a leaked file the way it would circulate (column subsets, reordering,
reformatting, accents stripped, invented rows, two processors merged, canaries,
pseudonyms) from the people a processor received according to the served index, and
checks that the right processor comes first — and that nobody is named for
controller-side and fabricated leaks. One world per database; the cases run in a loop
so the registry is built once.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from vigie.fingerprint.pseudonyms import Pseudonymiser
from vigie.leaks.analyze import analyze
from vigie.leaks.report import LeakReport
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings

from .helpers import HEADERS_FR, World, invented_rows, leak_rows, write_csv

ENGLISH = {"given_name": "first_name", "family_name": "last_name", "email": "email",
           "phone": "phone_number", "birth_date": "dob", "postal_code": "zip",
           "ref": "file_number", "preferred_language": "language", "city": "city"}  # fmt: skip


def _named(report: LeakReport) -> list[str]:
    return [a["processor"] for a in report.attribution]


def test_attribution_suite(
    world: World, engine: Engine, settings: Settings, secrets: InstanceSecrets, leak_dir: Path
) -> None:
    rng = random.Random(2026)
    lingua = "lingua-idf"
    civic = "civic-ara"
    other = "lingua-hdf"
    for name in (lingua, civic, other):
        assert len(world.real_received(name)) >= 60, name

    def sample(name: str, n: int) -> list[int]:
        return rng.sample(world.real_received(name), n)

    def run(path: Path) -> LeakReport:
        return analyze(engine, paths=[path], secrets=secrets, settings=settings)

    cases: list[tuple[str, Callable[[], Path], Callable[[LeakReport], bool]]] = []

    def first_is(name: str) -> Callable[[LeakReport], bool]:
        return lambda r: bool(r.attribution) and r.attribution[0]["processor"] == name

    def full() -> Path:
        fields = ["ref", "family_name", "given_name", "birth_date", "email", "phone", "postal_code"]
        return write_csv(
            leak_dir / "full.csv",
            [HEADERS_FR[f] for f in fields],
            leak_rows(world, lingua, sample(lingua, 50), fields),
            encoding="cp1252",
        )

    def subset() -> Path:
        fields = ["given_name", "family_name", "email"]
        return write_csv(
            leak_dir / "subset.csv",
            [HEADERS_FR[f] for f in fields],
            leak_rows(world, civic, sample(civic, 50), fields),
        )

    def reordered() -> Path:
        fields = ["phone", "email", "given_name", "postal_code", "family_name", "city"]
        rows = leak_rows(world, lingua, sample(lingua, 60), fields, style="plain")
        rng.shuffle(rows)
        return write_csv(
            leak_dir / "reordered.csv", [ENGLISH[f] for f in fields], rows, delimiter=","
        )

    def stripped() -> Path:
        fields = ["family_name", "given_name", "birth_date", "city"]
        return write_csv(
            leak_dir / "stripped.csv",
            [HEADERS_FR[f] for f in fields],
            leak_rows(world, civic, sample(civic, 60), fields, strip_accents=True),
            delimiter="\t",
        )

    def half_invented() -> Path:
        fields = ["given_name", "family_name", "email", "phone"]
        rows = leak_rows(world, other, sample(other, 60), fields) + invented_rows(60, fields, 1)
        rng.shuffle(rows)
        return write_csv(leak_dir / "half.csv", [HEADERS_FR[f] for f in fields], rows)

    def merged() -> Path:
        fields = ["given_name", "family_name", "email", "phone"]
        rows = leak_rows(world, lingua, sample(lingua, 60), fields)
        rows += leak_rows(world, civic, sample(civic, 60), fields)
        rng.shuffle(rows)
        return write_csv(leak_dir / "merged.csv", [HEADERS_FR[f] for f in fields], rows)

    def with_canaries() -> Path:
        fields = ["given_name", "family_name", "email"]
        canaries = sorted(world.received[other] & world.canaries)
        assert canaries, "the synthetic scope should hold canaries"
        ids = sample(other, 50) + canaries
        return write_csv(
            leak_dir / "canaries.csv",
            [HEADERS_FR[f] for f in fields],
            leak_rows(world, other, ids, fields),
        )

    def pseudonyms() -> Path:
        ids = sample(civic, 50)
        encoder = Pseudonymiser(secrets, world.processors[civic])
        rows = [[encoder.encode(i), world.people[i].given_name] for i in ids]
        return write_csv(leak_dir / "pseudo.csv", ["id", "prenom"], rows)

    def controller_side() -> Path:
        fields = ["given_name", "family_name", "email", "nationality", "residence_status"]
        ids = rng.sample(sorted(set(world.people) - world.canaries), 80)
        return write_csv(
            leak_dir / "controller.csv",
            [HEADERS_FR[f] for f in fields],
            leak_rows(world, "nobody", ids, fields),
        )

    def random_registry() -> Path:
        fields = ["given_name", "family_name", "email"]
        ids = rng.sample(sorted(set(world.people) - world.canaries), 80)
        return write_csv(
            leak_dir / "random.csv",
            [HEADERS_FR[f] for f in fields],
            leak_rows(world, "nobody", ids, fields),
        )

    def fabricated() -> Path:
        fields = ["given_name", "family_name", "birth_date", "email", "phone"]
        rows = invented_rows(120, fields, 2)
        return write_csv(leak_dir / "fabricated.csv", [HEADERS_FR[f] for f in fields], rows)

    def dated_by_receipts(r: LeakReport) -> bool:
        # The served index dates the theft from the processor's side: every person in
        # the file was received, and the file is complete only after the last receipt.
        received = r.attribution[0].get("received") if r.attribution else None
        return (
            bool(received)
            and received["people"] == len(r.affected)
            and (received["first"] <= received["complete_from"] <= received["last"])
        )

    cases = [
        ("full, cp1252, French headers", full,
         lambda r: first_is(lingua)(r) and dated_by_receipts(r)),
        ("column subset", subset, first_is(civic)),
        ("reordered, English headers, comma", reordered, first_is(lingua)),
        ("accents stripped, upper case, tab", stripped, first_is(civic)),
        ("half the rows invented", half_invented,
         lambda r: first_is(other)(r) and r.verdict == "mixed"),
        ("two processors merged", merged, lambda r: set(_named(r)[:2]) == {lingua, civic}),
        ("canaries", with_canaries, first_is(other)),
        ("pseudonyms", pseudonyms,
         lambda r: first_is(civic)(r) and "pseudonyms" in r.attribution[0]["evidence"]),
        ("controller side", controller_side, lambda r: not r.attribution and r.controller_side),
        ("random registry people", random_registry, lambda r: not r.attribution),
        ("fabricated", fabricated, lambda r: not r.attribution and r.verdict == "fabricated"),
    ]  # fmt: skip
    failures = []
    for label, build, check in cases:
        report = run(build())
        if not check(report):
            failures.append(
                f"{label}: named {_named(report)}, verdict {report.verdict}, "
                f"matched {report.matched_rows}/{report.rows}, note: {report.attribution_note}"
            )
    assert not failures, "\n".join(failures)
