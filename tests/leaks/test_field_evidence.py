"""A field is evidence through its values: empty, placeholder, constant, scarce or invented
columns neither veto a processor nor point to the controller's side.

One processor's leak (the people ``civic-ara`` received, with fields it received), plus
one extra column of each field kind in several variants. The analysis must still name
``civic-ara`` — except when the column genuinely holds the people's values for a field
that ``civic-ara`` never received: then it vetoes ``civic-ara`` (and, for a field that no
processor received, points to the controller's side), as before. The cases run in a
loop so the registry is built once, on SQLite only: the 126 analyses differ only in the
leaked file, and what a file's columns are judged happens in the analysis' own workspace,
whatever the database; reading the registry and the served index from PostgreSQL is
tested by the other analysis tests (tests/leaks/test_analyze.py, both databases).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.conftest import SQLITE_ONLY
from vigie.leaks.analyze import analyze
from vigie.leaks.evidence import FieldVerdict, judge, needed_values
from vigie.leaks.kinds import name_tokens
from vigie.leaks.report import LeakReport
from vigie.registry.models import Subject, SubjectVersion
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings

from .helpers import HEADERS_FR, World, leak_rows, value, write_csv

SOURCE = "civic-ara"
BASE = ["ref", "given_name", "family_name"]
PEOPLE = 60
HEADERS = {**HEADERS_FR, "birth_country": "pays_naissance", "region": "region",
           "family_name_native": "nom_natif", "course_hours": "heures"}  # fmt: skip
KINDS = [
    "email", "phone", "birth_date", "postal_code", "city", "address_line", "sex",
    "nationality", "birth_country", "region", "entry_date", "cir_signed_on",
    "residence_reason", "residence_status", "preferred_language", "course_level",
    "course_hours", "family_name_native",
]  # fmt: skip
PLACEHOLDERS = ["N/A", "inconnu", "-", "0", "?", "non renseigné"]


def _variants(world: World, field: str, ids: list[int], rng: random.Random) -> dict[str, list[str]]:
    """The extra column's values for each variant, in the order of ``ids``."""
    truth = [value(world.people[i], field, "french") for i in ids]
    others = [p for i, p in world.people.items() if i not in set(ids)]

    def wrong(true: str) -> str:
        # Another registry person's value, never this person's: from elsewhere.
        while True:
            got = value(rng.choice(others), field, "french")
            if got and got != true:
                return got

    most_common = Counter(truth).most_common(1)[0][0]
    return {
        "empty": [""] * len(ids),
        "placeholder": [PLACEHOLDERS[len(field) % len(PLACEHOLDERS)]] * len(ids),
        "mixed placeholders": [rng.choice(PLACEHOLDERS) for _ in ids],
        "constant": [most_common] * len(ids),
        "a few true values": [t if n < 5 else "" for n, t in enumerate(truth)],
        "invented": [wrong(t) for t in truth],
        "true values": truth,
    }


@SQLITE_ONLY
def test_only_columns_whose_values_agree_are_field_evidence(
    world: World, engine: Engine, settings: Settings, secrets: InstanceSecrets, leak_dir: Path
) -> None:
    rng = random.Random(2027)
    anyone = set().union(*(set(f) for f in world.fields.values()))
    received = set(world.fields[SOURCE])

    def run(path: Path) -> LeakReport:
        return analyze(engine, paths=[path], secrets=secrets, settings=settings)

    def named(r: LeakReport) -> list[str]:
        return [a["processor"] for a in r.attribution]

    with Session(engine) as session:
        versions = [*world.people.values(), *session.scalars(select(SubjectVersion))]
        history: dict[int, list[Subject | SubjectVersion]] = {}
        for v in versions:
            history.setdefault(v.id if isinstance(v, Subject) else v.subject_id, []).append(v)

    def agrees(person: int, field: str, written: str) -> bool:
        """Whether ``written`` is the person's value in some version of their record (a
        native name: its tokens are among their native names')."""
        if not written or written in PLACEHOLDERS:
            return False
        for v in history[person]:
            if field.endswith("_native"):
                native = name_tokens(f"{v.given_name_native or ''} {v.family_name_native or ''}")
                if set(name_tokens(written)) <= set(native):
                    return True
            elif value(v, field, "french") == written:
                return True
        return False

    failures = []
    for field in KINDS:
        holders = [i for i in world.real_received(SOURCE) if value(world.people[i], field)]
        assert len(holders) >= 40, field
        ids = rng.sample(holders, min(PEOPLE, len(holders)))
        base = leak_rows(world, SOURCE, ids, BASE)
        truth = {value(world.people[i], field, "french") for i in ids}
        for variant, column in _variants(world, field, ids, rng).items():
            rows = [[*b, v] for b, v in zip(base, column, strict=True)]
            path = write_csv(
                leak_dir / f"{field}-{variant.replace(' ', '-')}.csv",
                [HEADERS[f] for f in [*BASE, field]],
                rows,
            )
            report = run(path)
            verdict = report.field_evidence.get(field, {}).get("verdict")
            held = variant == "true values" and len(truth) > 1
            check: Callable[[], bool]
            if held and field not in anyone:
                expected = "nobody named, controller side"
                check = lambda: not report.attribution and report.controller_side  # noqa: E731
            elif held and field not in received:
                expected = f"{SOURCE} not named"
                check = lambda: SOURCE not in named(report)  # noqa: E731
            else:
                expected = f"{SOURCE} named first"
                check = lambda: named(report)[:1] == [SOURCE]  # noqa: E731
            # A person's notice lists the field only when their row holds their value, or
            # a value in a column that is evidence: an empty or invented one exposed nothing.
            exposed = report.field_totals().get(field, 0)
            agreeing = sum(agrees(i, field, v) for i, v in zip(ids, column, strict=True))
            if not check() or (verdict == "evidence") != held or exposed != agreeing:
                failures.append(
                    f"{field} / {variant}: expected {expected}, evidence={held}, "
                    f"{agreeing} exposed; got named {named(report)}, field verdict {verdict}, "
                    f"{exposed} exposed, note: {report.attribution_note}"
                )
    assert not failures, f"{len(failures)} cases failed:\n" + "\n".join(failures)


# (linked rows, filled, values, distinct, agree) -> verdict
JUDGED = [
    ((60, 0, 0, 0, 0), "empty"),
    ((60, 60, 0, 0, 0), "placeholder"),
    ((60, 60, 60, 1, 60), "constant"),  # one value everywhere, even the people's own
    ((60, 60, 60, 1, 12), "constant"),
    ((60, 5, 5, 5, 5), "too_few"),  # a few true values, filled by hand
    ((60, 29, 29, 20, 29), "too_few"),  # half of a small file is needed: 30
    ((60, 30, 30, 20, 30), "evidence"),
    ((60, 60, 60, 40, 47), "mismatch"),  # just under 80% agree
    ((60, 60, 60, 40, 48), "evidence"),
    ((60, 60, 40, 30, 40), "evidence"),  # placeholders on the other rows
    ((60, 60, 60, 50, 3), "mismatch"),  # invented or borrowed values
    ((12, 12, 12, 12, 12), "evidence"),  # a tiny file: ten values suffice
    ((12, 9, 9, 9, 9), "too_few"),
    ((2_000_000, 49, 49, 49, 49), "too_few"),  # fifty values are enough at any size
    ((2_000_000, 50, 50, 50, 50), "evidence"),
    ((2_000_000, 2_000_000, 2_000_000, 90, 1_500_000), "mismatch"),
]


@pytest.mark.parametrize(("counts", "verdict"), JUDGED)
def test_judge(counts: tuple[int, int, int, int, int], verdict: str) -> None:
    linked, filled, values, distinct, agree = counts
    assert judge(linked_rows=linked, filled=filled, values=values, distinct=distinct,
                 agree=agree) == verdict  # fmt: skip


def test_needed_values_scale_with_small_files() -> None:
    assert [needed_values(n) for n in (0, 10, 20, 21, 60, 100, 101, 10**6)] == [
        10, 10, 10, 11, 30, 50, 50, 50,
    ]  # fmt: skip


def test_the_report_says_what_was_made_of_each_column() -> None:
    cases = [
        (FieldVerdict("nationality", "evidence", 60, 60, 40, 38),
         "evidence (40 present, 95% agree with the registry)"),
        (FieldVerdict("nationality", "empty", 60, 0, 0, 0), "ignored: empty"),
        (FieldVerdict("sex", "placeholder", 60, 60, 0, 0), "ignored: constant placeholder"),
        (FieldVerdict("email", "mismatch", 60, 60, 60, 2),
         "ignored: values do not match the registry (invented or from elsewhere) "
         "(60 present, 3% agree with the registry)"),
        (FieldVerdict("city", "too_few", 60, 5, 5, 5),
         "ignored: too few values (5 present, 100% agree with the registry; 30 needed)"),
    ]  # fmt: skip
    assert [v.note() for v, _ in cases] == [note for _, note in cases]


def test_names_agree_as_linking_compares_them(
    world: World, engine: Engine, settings: Settings, secrets: InstanceSecrets, leak_dir: Path
) -> None:
    """A family name with a doubled letter agrees fuzzily (``token_sort_ratio`` >= 85),
    as it does for linking; a full name agrees whatever the order of its tokens."""
    ids = sorted(world.real_received(SOURCE))[:PEOPLE]
    rows = []
    for i in ids:
        p = world.people[i]
        rows.append([p.ref, p.given_name, p.family_name + p.family_name[-1],
                     f"{p.family_name} {p.given_name}"])  # fmt: skip
    path = write_csv(leak_dir / "typos.csv", ["num_dossier", "prenom", "nom", "nom_prenom"], rows)
    report = analyze(engine, paths=[path], secrets=secrets, settings=settings)
    judged = report.field_evidence
    assert report.matched_rows == len(ids)
    assert (judged["family_name"]["verdict"], judged["family_name"]["agree"]) == (
        "evidence",
        len(ids),
    )
    assert (judged["full_name"]["verdict"], judged["full_name"]["agree"]) == ("evidence", len(ids))
    assert [a["processor"] for a in report.attribution][:1] == [SOURCE]
