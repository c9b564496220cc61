"""Linking rules that need a registry built for them: two people who share their name
and birth date (one person, one row), and a row whose identifier and name disagree
(the identifier round settles only rows without any conflict)."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from vigie.leaks.analyze import analyze
from vigie.registry.exporter import export_subjects
from vigie.registry.importer import import_file
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings

from .helpers import HEADERS_FR, World, french_phone, write_csv

FIELDS = ["given_name", "family_name", "birth_date", "email", "phone"]


def _twins(world: World, sessions: sessionmaker[Session], tmp_path: Path) -> tuple[int, int]:
    """Give a second person the name and birth date of a first one; return their ids."""
    first, second = sorted(set(world.people) - world.canaries)[10:12]
    out = io.StringIO()
    with sessions() as session:
        export_subjects(session, out=out, fmt="csv", actor="operator:test")
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    a = next(r for r in rows if r["ref"] == world.people[first].ref)
    b = next(r for r in rows if r["ref"] == world.people[second].ref)
    for field in ("given_name", "family_name", "given_name_native", "family_name_native",
                  "birth_date", "sex", "nationality"):  # fmt: skip
        b[field] = a[field]
    path = tmp_path / "twins.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerow(b)
    with sessions.begin() as session:
        import_file(session, path=path, actor="operator:test")
    return first, second


def _row(world: World, sid: int, *, full: bool) -> list[str]:
    p = world.people[sid]
    birth = p.birth_date.strftime("%d/%m/%Y")
    contact = [p.email or "", french_phone(p.phone)] if full else ["", ""]
    return [p.given_name, p.family_name, birth, *contact]


@pytest.fixture
def twins(world: World, sessions: sessionmaker[Session], tmp_path: Path) -> tuple[int, int]:
    return _twins(world, sessions, tmp_path)


@pytest.fixture
def triage(
    engine: Engine, settings: Settings, secrets: InstanceSecrets
) -> Callable[[Path], dict[int, str]]:
    """Analyse a file; its linked lines and the ``ref`` each is linked to."""

    def run(path: Path) -> dict[int, str]:
        report = analyze(engine, paths=[path], secrets=secrets, settings=settings, keep_links=True)
        return {line: ref for _file, line, ref, _conf in report.links}

    return run


@pytest.mark.parametrize("repeated", [False, True])
def test_one_person_one_row_decides_between_namesakes(
    world: World,
    twins: tuple[int, int],
    triage: Callable[[Path], dict[int, str]],
    leak_dir: Path,
    repeated: bool,
) -> None:
    first, second = twins
    others = sorted(set(world.people) - world.canaries - {first, second})[:200]
    rows = [_row(world, sid, full=True) for sid in others]
    rows.append(_row(world, first, full=True))  # line 202: the e-mail names the first twin
    # Line 203: only the name and birth date the twins now share (the first's values).
    rows.append(_row(world, first, full=False))
    if repeated:  # a file that repeats people: the exclusion must not decide
        rows += [_row(world, sid, full=True) for sid in others[:100]]
    linked = triage(write_csv(leak_dir / "namesakes.csv", [HEADERS_FR[f] for f in FIELDS], rows))
    assert linked[202] == world.people[first].ref
    if repeated:
        assert 203 not in linked
    else:
        assert linked[203] == world.people[second].ref


def test_namesakes_alone_are_not_linked(
    world: World,
    twins: tuple[int, int],
    triage: Callable[[Path], dict[int, str]],
    leak_dir: Path,
) -> None:
    rows = [_row(world, twins[0], full=False)]
    linked = triage(write_csv(leak_dir / "one.csv", [HEADERS_FR[f] for f in FIELDS], rows))
    assert linked == {}  # two people share the name and the date: neither is named


def test_identifier_against_name_and_birth_date_is_not_settled(
    world: World, triage: Callable[[Path], dict[int, str]], leak_dir: Path
) -> None:
    """A row with one person's e-mail but another's name and birth date is not settled by
    the e-mail: the name round runs, and the name and birth date (28 bits) outweigh a
    disagreeing e-mail (3 bits)."""
    a, b = sorted(set(world.people) - world.canaries)[20:22]
    pa, pb = world.people[a], world.people[b]
    assert pa.email
    row = [pb.given_name, pb.family_name, pb.birth_date.strftime("%d/%m/%Y"), pa.email, ""]
    linked = triage(write_csv(leak_dir / "conflict.csv", [HEADERS_FR[f] for f in FIELDS], [row]))
    assert linked == {2: pb.ref}


@pytest.mark.parametrize("cap", [5_000, 1])
def test_a_row_whose_birth_date_is_too_common_is_counted_not_dropped_silently(
    world: World,
    engine: Engine,
    settings: Settings,
    secrets: InstanceSecrets,
    leak_dir: Path,
    cap: int,
) -> None:
    """A row that only the birth-date fallback could find (its family name misspelt, no
    contact) is searched when its day is shared by at most ``leak_fuzzy_date_cap``
    people; past the cap it is not, and the report says how many such rows there were."""
    by_day: dict[date, list[int]] = defaultdict(list)
    for sid in sorted(set(world.people) - world.canaries):
        p = world.people[sid]
        if len(p.family_name) >= 6 and p.family_name.isalpha():
            by_day[p.birth_date].append(sid)
    shared = [ids[0] for ids in by_day.values() if len(ids) >= 2]  # a day two people share
    p = world.people[shared[0]]
    misspelt = p.family_name[:-1] + ("x" if p.family_name[-1] != "x" else "y")
    row = [p.given_name, misspelt, p.birth_date.strftime("%d/%m/%Y"), "", ""]
    path = write_csv(leak_dir / "crowded.csv", [HEADERS_FR[f] for f in FIELDS], [row])
    capped = settings.model_copy(update={"leak_fuzzy_date_cap": cap})
    report = analyze(engine, paths=[path], secrets=secrets, settings=capped)
    if cap == 1:
        assert report.crowded_rows == 1 and report.matched_rows == 0
        # Its only row was never compared with anyone: not evidence of a fabricated file.
        assert report.verdict == "undetermined"
        assert report.as_dict()["warnings"] == [
            "1 row with a name and a birth date matched nobody by name and was compared "
            "with nobody born that day: more than 1 registry person shares each of those dates "
            "(setting leak_fuzzy_date_cap). It is left unlinked and may still be a registry "
            "person."
        ]
    else:
        assert report.crowded_rows == 0 and report.as_dict()["warnings"] == []
