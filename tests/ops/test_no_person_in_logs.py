"""No log line names a person: the whole demo at DEBUG, grepped for every synthetic person.

``vigie demo`` runs every part of Vigie that touches people — synthesis, the gateway
over real HTTP, detection and containment, leak triage and attribution, the authority
pack, notices by e-mail, SMS and letter — in one process, with ``VIGIE_LOG_LEVEL=DEBUG``
and ``VIGIE_LOG_FILE`` set (the session's shared run, ``tests/demo_run.py``). Its log (the
file and standard error) is then searched for the given and family names (Latin and native
scripts), e-mail address, phone number and file number of every person in the registry,
every pseudonym any provider was given, and every value of the leaked file: none may
appear.
"""

from __future__ import annotations

import csv
import re
import sqlite3
from pathlib import Path

import orjson
import pytest

from tests.demo_run import PEOPLE, DemoRun
from vigie.fingerprint.pseudonyms import Pseudonymiser
from vigie.secrets import load_secrets

pytestmark = pytest.mark.slow

TOKEN = re.compile(r"[\w@.+'-]+")


def _identifiers(out: Path) -> set[str]:
    """Every identifier of a synthetic person the demo instance holds or leaked."""
    found: set[str] = set()
    db = sqlite3.connect(out / "data" / "vigie.db")
    try:
        rows = db.execute(
            "SELECT id, ref, given_name, family_name, given_name_native, family_name_native, "
            "email, phone FROM subjects"
        ).fetchall()
        processors = [int(r[0]) for r in db.execute("SELECT id FROM processors")]
    finally:
        db.close()
    ids = [int(r[0]) for r in rows]
    for row in rows:
        found.update(str(v) for v in row[1:] if v)
    secrets = load_secrets(out / "data" / "secrets")
    for processor_id in processors:
        found.update(Pseudonymiser(secrets, processor_id).encode_many(ids))
    leaked = next((out / "leak").glob("*.csv"))
    with leaked.open(encoding="utf-8-sig", newline="") as f:
        for record in csv.DictReader(f, delimiter=";"):
            found.update(v for v in record.values() if v and not _is_plain(v))
    return found


def _is_plain(value: str) -> bool:
    """Values that name nobody: numbers, dates, one-letter codes, short words."""
    return len(value) < 4 or bool(re.fullmatch(r"[\d\- :.]+", value))


def _hits(text: str, identifiers: set[str]) -> list[str]:
    """Identifiers found in ``text``, whole tokens (case-insensitive) or multi-word runs."""
    lowered = text.lower()
    tokens = set(TOKEN.findall(lowered))
    hits = []
    for value in identifiers:
        low = value.lower()
        parts = TOKEN.findall(low)
        if not parts:
            continue
        if len(parts) == 1 and parts[0] == low:
            if low in tokens:
                hits.append(value)
        elif all(p in tokens for p in parts) and low in lowered:
            hits.append(value)
    return sorted(hits)


def test_the_whole_demo_at_debug_logs_no_person(demo_run: DemoRun) -> None:
    demo_run.check()
    logged = demo_run.log_file.read_text(encoding="utf-8")
    lines = [orjson.loads(line) for line in logged.splitlines()]
    assert lines and all({"ts", "level", "logger", "event"} <= set(x) for x in lines)
    assert any(x["level"] == "DEBUG" for x in lines)  # DEBUG was really on
    access = [x for x in lines if x["logger"] == "vigie.access"]
    assert access and all("route" in x and "status" in x for x in access)
    assert {x["route"] for x in access} >= {"/api/v1/subjects/{pseudonym}"}

    identifiers = _identifiers(demo_run.out)
    assert len(identifiers) > 5 * PEOPLE  # names, contacts, refs, pseudonyms, leaked values
    assert _hits(logged, identifiers) == []
    assert _hits(demo_run.stderr, identifiers) == []
    # the check itself finds a person when one is there
    someone = sorted(identifiers)[len(identifiers) // 2]
    assert _hits(logged + f'\n{{"event":"{someone}"}}', identifiers) == [someone]
