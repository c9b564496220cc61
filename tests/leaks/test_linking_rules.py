"""Linking rules that need a registry built for them: two people who share their name
and birth date (one person, one row), and a row whose identifier and name disagree
(the identifier round settles only rows without any conflict)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
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
