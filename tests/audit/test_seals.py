"""Sealed tables: the registry (and the other tables evidence reads) bound to the trail.

Each writer seals, in its own event, the buckets it changed; ``verify_trail`` recomputes
every bucket and follows the seal chain; a writer refuses to seal over tampering. Every
tampering below passed ``vigie audit verify`` before seals existed.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection, Engine, func, insert, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from tests.anchoring import sign
from tests.people import person
from vigie.audit.actions import Action
from vigie.audit.anchors import Bound
from vigie.audit.evidence import require_evidence, require_verified
from vigie.audit.models import EVENTS
from vigie.audit.seals import (
    ASSIGNMENTS,
    CANARY_CONTACTS,
    EXPOSURES,
    REGISTRY,
    bucket_digest,
    canonical_rows,
    reseal,
    scan,
    scan_along,
    state_digest,
)
from vigie.audit.verify import verify_trail
from vigie.breach.incidents import open_incident, record_exposure
from vigie.errors import IntegrityError
from vigie.fingerprint.canaries import plant
from vigie.processors.assignments import import_assignments
from vigie.processors.models import Assignment, Contract, Processor
from vigie.registry.importer import import_file
from vigie.registry.models import Subject, SubjectVersion
from vigie.secrets import InstanceSecrets
from vigie.synth.load import synthesize
from vigie.synth.people import generate

ACTOR = "operator:test"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")
BUCKET0 = "registry: bucket 0 (person ids 0..1023)"


def _people(n: int) -> list[dict[str, str]]:
    batch = generate(n, seed=3)
    return [{k: ("" if v is None else str(v)) for k, v in batch.record(i).items()}
            for i in range(n)]  # fmt: skip


def _csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def _fails(engine: Engine, secrets: InstanceSecrets) -> str:
    with pytest.raises(IntegrityError) as info:
        verify_trail(engine, public_key=secrets.verify_key)
    return str(info.value)


def _count(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


@pytest.fixture
def registry(
    sessions: sessionmaker[Session], secrets: InstanceSecrets, tmp_path: Path
) -> list[dict[str, str]]:
    """Ten people imported, three of them changed later (so they have a dated version)."""
    rows = _people(10)
    with sessions.begin() as s:
        import_file(s, path=_csv(tmp_path / "a.csv", rows), actor=ACTOR, now=T0)
    for r in rows[:3]:
        r["city"] += "-sur-Mer"
    with sessions.begin() as s:
        import_file(
            s, path=_csv(tmp_path / "b.csv", rows), actor=ACTOR, now=T0 + timedelta(days=30)
        )
    sign(sessions, secrets)
    return rows


def test_the_registry_verifies_as_sealed(
    engine: Engine, secrets: InstanceSecrets, registry: list[dict[str, str]]
) -> None:
    report = verify_trail(engine, public_key=secrets.verify_key)
    assert report.sealed is not None
    assert report.sealed["registry"].rows == 10 + 3  # ten people, three superseded versions
    assert report.sealed["registry"].buckets == 1


def test_a_sets_state_is_that_of_its_rows_and_read_only_when_asked(
    engine: Engine, secrets: InstanceSecrets, registry: list[dict[str, str]]
) -> None:
    """The state the trail seals (``Sealed.state``) is the state of the rows as ``scan``
    digests them; a gate that recomputes no set's rows still checks their seal heads,
    and gives the state a reader of its own copy compares with."""

    def rows_state() -> bytes:
        with engine.connect() as conn:
            return state_digest(REGISTRY, scan(conn.connection.dbapi_connection,
                                               engine.dialect.name, REGISTRY)[0])  # fmt: skip

    full = verify_trail(engine, public_key=secrets.verify_key)
    assert full.sealed is not None and full.sealed["registry"].state == rows_state()
    bound = Bound(max_events=10, max_seconds=900.0)
    gated = require_evidence(engine, public_key=secrets.verify_key, bound=bound,
                             purpose="attribution", recompute_seals=())  # fmt: skip
    sealed = gated.sealed["registry"]
    assert sealed.state == full.sealed["registry"].state
    assert (sealed.recomputed, sealed.rows) == (False, 0)
    with engine.begin() as conn:
        conn.execute(text("UPDATE subjects SET city = 'Paris' WHERE id = 5"))
    assert rows_state() != sealed.state  # what the reader of a copy finds
    again = require_evidence(engine, public_key=secrets.verify_key, bound=bound,
                             purpose="attribution", recompute_seals=())  # fmt: skip
    assert again.sealed["registry"].state == sealed.state
    assert "no longer matches its seal" in _fails(engine, secrets)
    with engine.begin() as conn:  # a seal head moved: refused without reading a row
        conn.execute(text("UPDATE audit_seal_heads SET seq = seq - 1 WHERE name = 'registry'"))
    with pytest.raises(IntegrityError, match="audit_seal_heads was altered"):
        require_evidence(engine, public_key=secrets.verify_key, bound=bound,
                         purpose="attribution", recompute_seals=())  # fmt: skip


def _set_version_time(conn: Connection) -> None:
    conn.execute(
        update(SubjectVersion)
        .where(SubjectVersion.subject_id == 1)
        .values(valid_from=datetime(2020, 1, 1, tzinfo=UTC))
    )


VERSION_COLUMNS = (
    "given_name, family_name, given_name_native, family_name_native, birth_date, sex, "
    "birth_country, nationality, preferred_language, email, phone, address_line, postal_code, "
    "city, region, entry_date, residence_reason, residence_status, cir_signed_on, course_hours, "
    "course_level"
)
# What is done to the registry behind Vigie's back -> how verify must fail.
TAMPERING: dict[str, tuple[str | Callable[[Connection], None], str]] = {
    "a current value altered": (
        "UPDATE subjects SET city = 'Paris' WHERE id = 5",
        f"{BUCKET0} no longer matches its seal (event ",
    ),
    "a dated version altered": (
        "UPDATE subject_versions SET email = 'someone@mail.example' WHERE subject_id = 2",
        f"{BUCKET0} no longer matches its seal (event ",
    ),
    "a dated version deleted": (
        "DELETE FROM subject_versions WHERE subject_id = 3",
        f"{BUCKET0} no longer matches its seal (event ",
    ),
    "a dated version inserted": (
        f"INSERT INTO subject_versions (subject_id, version, {VERSION_COLUMNS}, valid_from, "
        f"valid_to) SELECT id, 0, {VERSION_COLUMNS}, valid_from, valid_from FROM subjects "
        "WHERE id = 7",
        f"{BUCKET0} no longer matches its seal (event ",
    ),
    "a version's valid_from moved": (
        _set_version_time,
        f"{BUCKET0} no longer matches its seal (event ",
    ),
    "a person deleted": (
        "DELETE FROM subjects WHERE id = 9",
        f"{BUCKET0} no longer matches its seal (event ",
    ),
    "every person deleted": (
        "DELETE FROM subjects",
        f"{BUCKET0}, sealed by event ",
    ),
    "a person added": (
        "INSERT INTO subjects (id, ref, given_name, family_name, birth_date, sex, birth_country, "
        "nationality, preferred_language, address_line, postal_code, city, region, entry_date, "
        "residence_reason, residence_status, course_hours, course_level, is_canary, version, "
        "valid_from) SELECT 5000, 'X-1', given_name, family_name, birth_date, sex, "
        "birth_country, nationality, preferred_language, address_line, postal_code, city, "
        "region, entry_date, residence_reason, residence_status, course_hours, course_level, "
        "is_canary, version, valid_from FROM subjects WHERE id = 1",
        "registry: bucket 4 (person ids 4096..5119) holds rows that no seal covers",
    ),
    "a seal head removed": (
        "DELETE FROM audit_seal_heads",
        "seal heads: registry, bucket 0 (person ids 0..1023): the side table says nothing, "
        "the trail says event ",
    ),
}


@pytest.mark.parametrize("case", list(TAMPERING))
def test_tampering_with_the_registry_fails_verification(
    engine: Engine, secrets: InstanceSecrets, registry: list[dict[str, str]], case: str
) -> None:
    verify_trail(engine, public_key=secrets.verify_key)
    change, expected = TAMPERING[case]
    with engine.begin() as conn:
        if callable(change):
            change(conn)
        else:
            conn.execute(text(change))
    message = _fails(engine, secrets)
    assert expected in message
    assert "Paris" not in message and "mail.example" not in message  # ids only, no values


def test_an_import_over_tampering_is_refused(
    engine: Engine,
    sessions: sessionmaker[Session],
    secrets: InstanceSecrets,
    registry: list[dict[str, str]],
    tmp_path: Path,
) -> None:
    """Without the check before writing, the import would seal the altered row as its own."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE subjects SET city = 'Paris' WHERE id = 5"))
    events = _count(engine, "SELECT count(*) FROM audit_events")
    registry[0]["city"] = "Lyon"
    with pytest.raises(IntegrityError) as info, sessions.begin() as s:
        import_file(s, path=_csv(tmp_path / "c.csv", registry), actor=ACTOR)
    assert str(info.value).startswith(f"{BUCKET0} no longer matches its seal by event ")
    assert "run `vigie audit verify`" in str(info.value)
    assert _count(engine, "SELECT count(*) FROM audit_events") == events
    assert _count(engine, "SELECT count(*) FROM subject_versions") == 3


def test_an_import_of_new_people_beside_tampering_is_refused(
    engine: Engine,
    sessions: sessionmaker[Session],
    secrets: InstanceSecrets,
    registry: list[dict[str, str]],
    tmp_path: Path,
) -> None:
    """New people land in a bucket whose other rows were altered: refused too."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE subjects SET city = 'Paris' WHERE id = 5"))
    with pytest.raises(IntegrityError, match="no longer matches its seal"), sessions.begin() as s:
        import_file(s, path=_csv(tmp_path / "new.csv", _people(12)[10:]), actor=ACTOR)
    assert _count(engine, "SELECT count(*) FROM subjects") == 10


def test_imports_keep_verifying_and_chain_their_seals(
    engine: Engine,
    sessions: sessionmaker[Session],
    secrets: InstanceSecrets,
    registry: list[dict[str, str]],
    tmp_path: Path,
) -> None:
    with sessions.begin() as s:
        import_file(s, path=_csv(tmp_path / "new.csv", _people(12)), actor=ACTOR)
    report = verify_trail(engine, public_key=secrets.verify_key)
    assert report.sealed is not None
    assert report.sealed["registry"].rows == 10 + 12 + 3  # twelve more people (new refs)
    with engine.connect() as conn:
        details = conn.execute(
            select(EVENTS.c.seq, EVENTS.c.detail)
            .where(EVENTS.c.action == Action.SUBJECT_IMPORT.value)
            .order_by(EVENTS.c.seq)
        ).all()
    seals = [(seq, json.loads(d)["seals"]["registry"]["0"]) for seq, d in details]
    assert seals[0][1][0] == 0  # first seal of the bucket
    assert [s[1][0] for s in seals[1:]] == [seq for seq, _ in seals[:-1]]  # each after the last


def _heads_to_older_seal(engine: Engine) -> int:
    """Point the side table at the bucket's older seal; return that event."""
    with engine.begin() as conn:
        first, detail = conn.execute(
            select(EVENTS.c.seq, EVENTS.c.detail)
            .where(EVENTS.c.action == Action.SUBJECT_IMPORT.value)
            .order_by(EVENTS.c.seq)
        ).first()  # type: ignore[misc]
        digest = bytes.fromhex(json.loads(detail)["seals"]["registry"]["0"][1])
        conn.execute(
            text("UPDATE audit_seal_heads SET seq = :s, digest = :d"), {"s": first, "d": digest}
        )
    return int(first)


def test_a_seal_head_pointed_at_an_older_seal_fails(
    engine: Engine, secrets: InstanceSecrets, registry: list[dict[str, str]]
) -> None:
    older = _heads_to_older_seal(engine)
    message = _fails(engine, secrets)
    assert message.startswith(
        f"seal heads: registry, bucket 0 (person ids 0..1023): the side table says event {older}, "
        "the trail says event "
    )


def test_rows_and_head_rolled_back_then_written_over_fails(
    engine: Engine,
    sessions: sessionmaker[Session],
    secrets: InstanceSecrets,
    registry: list[dict[str, str]],
    tmp_path: Path,
) -> None:
    """The rows put back as they were at an older seal, and the side table with them: the
    next writer's check passes, but its seal names the older event as the one before."""
    older = _heads_to_older_seal(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM subject_versions"))
        conn.execute(text("UPDATE subjects SET version = 1, city = :c WHERE id = 1"),
                     {"c": registry[0]["city"].removesuffix("-sur-Mer")})  # fmt: skip
        for i, r in enumerate(registry[1:3], start=2):
            conn.execute(
                text("UPDATE subjects SET version = 1, city = :c WHERE id = :i"),
                {"c": r["city"].removesuffix("-sur-Mer"), "i": i},
            )
        conn.execute(
            text("UPDATE subjects SET valid_from = (SELECT valid_from FROM subjects WHERE id = 4)")
        )
    with sessions.begin() as s:  # passes its check: rows and head agree
        import_file(s, path=_csv(tmp_path / "new.csv", _people(11)[10:]), actor=ACTOR)
    message = _fails(engine, secrets)
    assert f"seals it after event {older}, but its last seal before was event " in message


def test_attribution_is_refused_when_the_registry_does_not_verify(
    engine: Engine, secrets: InstanceSecrets, registry: list[dict[str, str]]
) -> None:
    bound = Bound(max_events=10, max_seconds=900.0)
    require_verified(engine, public_key=secrets.verify_key, bound=bound, purpose="dating")
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM subject_versions WHERE subject_id = 1"))
    with pytest.raises(IntegrityError) as info:
        require_verified(engine, public_key=secrets.verify_key, bound=bound, purpose="dating")
    assert str(info.value).startswith(f"the audit trail does not verify: {BUCKET0} no longer")
    assert "dating refused" in str(info.value)


def test_planting_a_canary_seals_and_refuses_tampering(
    engine: Engine,
    sessions: sessionmaker[Session],
    secrets: InstanceSecrets,
    registry: list[dict[str, str]],
) -> None:
    with sessions.begin() as s:
        plant(s, subject_ids=[4], actor=ACTOR)
    verify_trail(engine, public_key=secrets.verify_key)
    with engine.begin() as conn:
        conn.execute(text("UPDATE subjects SET city = 'Paris' WHERE id = 5"))
    with pytest.raises(IntegrityError, match="no longer matches its seal"), sessions.begin() as s:
        plant(s, subject_ids=[6], actor=ACTOR)
    with sessions() as s:
        assert s.scalar(select(func.count()).where(Subject.is_canary)) == 1


def test_reseal_binds_rows_written_before_seals_and_nothing_else(
    engine: Engine, sessions: sessionmaker[Session], secrets: InstanceSecrets
) -> None:
    with sessions.begin() as s:  # written as an instance from before seals did
        s.execute(insert(Subject), [person(i, ref=f"R-{i}", phone=f"+3361234{i:04d}",
                                           valid_from=T0) for i in (1, 2, 3000)])  # fmt: skip
    sign(sessions, secrets)
    assert "registry: bucket 0 (person ids 0..1023) holds rows that no seal covers" in _fails(
        engine, secrets
    )
    with sessions.begin() as s:
        assert reseal(s, actor=ACTOR) == {"registry": 2}
    sign(sessions, secrets)
    report = verify_trail(engine, public_key=secrets.verify_key)
    assert report.sealed is not None and report.sealed["registry"].buckets == 2
    with sessions.begin() as s:
        assert reseal(s, actor=ACTOR) == {}
    with engine.begin() as conn:
        conn.execute(text("UPDATE subjects SET city = 'Paris' WHERE id = 3000"))
    with (
        pytest.raises(IntegrityError, match=r"bucket 2 .* no longer matches"),
        sessions.begin() as s,
    ):
        reseal(s, actor=ACTOR)


# --- assignments, canary contacts, incident exposures ------------------------------------


@pytest.fixture
def population(engine: Engine, sessions: sessionmaker[Session], secrets: InstanceSecrets) -> Engine:
    """A synthetic population (registry, assignments, canary contacts) with one incident
    that exposed 20 people, the trail anchored."""
    synthesize(engine, people=300, seed=5, canary_density=0.02)
    with sessions.begin() as s:
        incident = open_incident(s, title="A leak", source="manual", aware_at=T0, actor=ACTOR)
        record_exposure(
            s,
            incident_id=incident.id,
            exposures={i: ["email", "given_name"] for i in range(1, 21)},
            actor=ACTOR,
        )
    sign(sessions, secrets)
    return engine


def test_the_population_verifies_as_sealed(population: Engine, secrets: InstanceSecrets) -> None:
    report = verify_trail(population, public_key=secrets.verify_key)
    assert report.sealed is not None
    counts = {n: _count(population, f"SELECT count(*) FROM {n}")
              for n in ("assignments", "canary_contacts", "incident_exposures")}  # fmt: skip
    assert {n: report.sealed[n].rows for n in counts} == counts
    assert report.sealed["incident_exposures"].buckets == 1


OTHER_TAMPERING = {
    "a person moved to another contract's scope": (
        "UPDATE assignments SET processor_id = (SELECT max(id) FROM processors), "
        "contract_id = (SELECT max(id) FROM contracts) WHERE id = (SELECT min(id) FROM "
        "assignments)",
        "assignments: bucket 0 (person ids 0..1023) no longer matches its seal (event ",
    ),
    "an assignment deleted": (
        "DELETE FROM assignments WHERE id = (SELECT max(id) FROM assignments)",
        "assignments: bucket 0 (person ids 0..1023) no longer matches its seal (event ",
    ),
    "an assignment's end moved": (
        "UPDATE assignments SET ends_on = starts_on WHERE id = (SELECT min(id) FROM assignments)",
        "assignments: bucket 0 (person ids 0..1023) no longer matches its seal (event ",
    ),
    "a canary contact pointed at another canary": (
        "UPDATE canary_contacts SET subject_id = (SELECT max(subject_id) FROM canary_contacts) "
        "WHERE id = (SELECT min(id) FROM canary_contacts)",
        "canary_contacts: bucket 0 (person ids 0..1023) no longer matches its seal (event ",
    ),
    "a canary contact deleted": (
        "DELETE FROM canary_contacts WHERE id = (SELECT min(id) FROM canary_contacts)",
        "canary_contacts: bucket 0 (person ids 0..1023) no longer matches its seal (event ",
    ),
    "an exposed person deleted from the incident": (
        "DELETE FROM incident_exposures WHERE subject_id = 3",
        "incident_exposures: incident 1, bucket 0 (person ids 0..1023) no longer matches its "
        "seal (event ",
    ),
    "every exposure deleted": (
        "DELETE FROM incident_exposures",
        "incident_exposures: incident 1, bucket 0 (person ids 0..1023), sealed by event ",
    ),
    "an exposure's fields narrowed": (
        "UPDATE incident_exposures SET fields = '[\"email\"]' WHERE subject_id = 4",
        "incident_exposures: incident 1, bucket 0 (person ids 0..1023) no longer matches its "
        "seal (event ",
    ),
    "a person added to the exposed": (
        "INSERT INTO incident_exposures (incident_id, subject_id, fields, recorded_at) "
        "SELECT incident_id, 30, fields, recorded_at FROM incident_exposures WHERE subject_id = 1",
        "incident_exposures: incident 1, bucket 0 (person ids 0..1023) no longer matches its "
        "seal (event ",
    ),
}


@pytest.mark.parametrize("case", list(OTHER_TAMPERING))
def test_tampering_with_the_other_evidence_tables_fails_verification(
    population: Engine, secrets: InstanceSecrets, case: str
) -> None:
    sql, expected = OTHER_TAMPERING[case]
    with population.begin() as conn:
        conn.execute(text(sql))
    assert expected in _fails(population, secrets)


def test_writers_refuse_to_seal_over_tampering(
    population: Engine, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with population.begin() as conn:
        conn.execute(text("DELETE FROM incident_exposures WHERE subject_id = 3"))
        conn.execute(text("DELETE FROM assignments WHERE id = (SELECT max(id) FROM assignments)"))
    with (
        pytest.raises(IntegrityError, match="incident_exposures: incident 1, bucket 0"),
        sessions.begin() as s,
    ):
        record_exposure(s, incident_id=1, exposures={5: ["phone"]}, actor=ACTOR)
    with sessions() as s:
        ref, contract, processor = s.execute(
            select(Subject.ref, Contract.name, Processor.name)
            .join(Assignment, Assignment.subject_id == Subject.id)
            .join(Contract, Contract.id == Assignment.contract_id)
            .join(Processor, Processor.id == Contract.processor_id)
            .limit(1)
        ).one()
    path = tmp_path / "scope.csv"
    path.write_text(f"ref,starts_on\n{ref},2026-02-01\n")
    with pytest.raises(IntegrityError, match="assignments: bucket 0"), sessions.begin() as s:
        import_assignments(s, processor=processor, contract=contract, path=path, actor=ACTOR)


def test_writers_keep_the_other_tables_verifying(
    population: Engine, sessions: sessionmaker[Session], secrets: InstanceSecrets, tmp_path: Path
) -> None:
    with sessions.begin() as s:
        record_exposure(s, incident_id=1, exposures={5: ["phone"], 250: ["email"]}, actor=ACTOR)
        ref, contract, processor = s.execute(
            select(Subject.ref, Contract.name, Processor.name)
            .join(Assignment, Assignment.subject_id == Subject.id)
            .join(Contract, Contract.id == Assignment.contract_id)
            .join(Processor, Processor.id == Contract.processor_id)
            .limit(1)
        ).one()
    path = tmp_path / "scope.csv"
    path.write_text(f"ref,starts_on\n{ref},2026-02-01\n")
    with sessions.begin() as s:
        import_assignments(
            s, processor=processor, contract=contract, path=path, actor=ACTOR, replace=True
        )
    report = verify_trail(population, public_key=secrets.verify_key)
    assert report.sealed is not None
    assert report.sealed["incident_exposures"].rows == 21
    assert report.sealed["assignments"].rows == _count(
        population, "SELECT count(*) FROM assignments"
    )


def test_rows_read_the_same_on_sqlite_and_postgresql() -> None:
    """A bucket sealed on one database verifies after a move to the other: SQLite's stored
    text and PostgreSQL's typed values give the same bytes."""
    part = EXPOSURES.parts[0]
    on_sqlite = [(3, 12, '["email", "given_name"]', "2026-01-05 09:00:00.000000")]
    on_postgresql = [(3, 12, ["email", "given_name"], datetime(2026, 1, 5, 10, tzinfo=PARIS))]
    assert canonical_rows(EXPOSURES, part, "sqlite", on_sqlite) == canonical_rows(
        EXPOSURES, part, "postgresql", on_postgresql
    )
    versions = REGISTRY.parts[1]
    row = dict.fromkeys(versions.columns, "x")
    row |= {"subject_id": 1, "version": 2, "course_hours": 100, "cir_signed_on": None}
    day, at = date(1990, 2, 3), datetime(2026, 1, 5, 9, tzinfo=UTC)
    days, times = ("birth_date", "entry_date"), ("valid_from", "valid_to")
    sqlite_row = (
        row | dict.fromkeys(days, "1990-02-03") | dict.fromkeys(times, "2026-01-05 09:00:00.000000")
    )
    pg_row = row | dict.fromkeys(days, day) | dict.fromkeys(times, at)
    assert canonical_rows(REGISTRY, versions, "sqlite", [tuple(sqlite_row.values())]) == (
        canonical_rows(REGISTRY, versions, "postgresql", [tuple(pg_row.values())])
    )
    subjects = REGISTRY.parts[0]
    flag = subjects.columns.index("is_canary")
    sqlite_subject: list[object] = [None] * len(subjects.columns)
    pg_subject: list[object] = [None] * len(subjects.columns)
    sqlite_subject[flag], pg_subject[flag] = 1, True
    assert canonical_rows(REGISTRY, subjects, "sqlite", [tuple(sqlite_subject)]) == (
        canonical_rows(REGISTRY, subjects, "postgresql", [tuple(pg_subject)])
    )


def test_a_writer_refuses_rows_no_seal_covers(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    with sessions.begin() as s:  # behind Vigie's back (or before seals)
        s.execute(insert(Subject), [person(1, ref="R-1", phone="+33612340001", valid_from=T0)])
    with pytest.raises(IntegrityError) as info, sessions.begin() as s:
        plant(s, subject_ids=[1], actor=ACTOR)
    assert str(info.value) == (
        f"{BUCKET0} holds rows that no seal covers (written behind Vigie's back, or before "
        "seals); nothing written — run `vigie audit verify`"
    )


AWKWARD = ['Zoë "Zo" O\'Brien', "back\\slash", "tab\tnew\nline\r\x01\x1f\x7f", "Ангелина",
           "李小龙", "😀 \u2028\u2029\ufeff", ""]  # fmt: skip
SUBJECT_SET = text(
    "UPDATE subjects SET given_name = :v, family_name_native = :v, email = NULL WHERE id = :i"
)
VERSION_SET = text(
    "UPDATE subject_versions SET city = :v "
    "WHERE subject_id = (SELECT min(subject_id) FROM subject_versions) + :i"
)


def test_a_whole_table_scan_gives_each_bucket_the_digest_read_row_by_row(
    population: Engine,
) -> None:
    """On SQLite a whole scan has SQLite write each canonical line (``json_array``); a
    writer checking one bucket reads its rows into Python (:func:`canonical_rows`). Both
    must give the same bytes, whatever the text, or a seal made one way fails the other."""
    with population.begin() as conn:
        for i, value in enumerate(AWKWARD, start=1):
            values = {"v": value, "i": i}
            conn.execute(SUBJECT_SET, values)
            conn.execute(VERSION_SET, values)
        dbapi = conn.connection.driver_connection
        for seal in (REGISTRY, ASSIGNMENTS, CANARY_CONTACTS):
            digests, rows = scan(dbapi, conn.dialect.name, seal)
            assert rows and digests
            assert digests == {k: bucket_digest(conn, seal, k) for k in digests}


def test_a_value_json_cannot_hold_is_named_by_its_bucket(
    population: Engine, secrets: InstanceSecrets
) -> None:
    if population.dialect.name != "sqlite":
        pytest.skip("a blob in a text column: SQLite's flexible typing only")
    with population.begin() as conn:
        conn.execute(text("UPDATE subjects SET city = x'00ff' WHERE id = 5"))
    assert _fails(population, secrets) == (
        "registry: subjects, bucket 0 (person ids 0..1023): a row holds a value of the "
        "wrong type (altered behind Vigie's back)"
    )


def test_a_scan_along_another_read_gives_the_scans_digests(population: Engine) -> None:
    """``scan_along`` (the leak snapshot's copy and its hashing in one read) hashes what
    ``scan`` hashes, whatever the text, and hands over one extra value per row read."""
    if population.dialect.name != "sqlite":
        pytest.skip("the lines made in SQL: SQLite only")
    with population.begin() as conn:
        for i, value in enumerate(AWKWARD, start=1):
            values = {"v": value, "i": i}
            conn.execute(SUBJECT_SET, values)
            conn.execute(VERSION_SET, values)
        dbapi = conn.connection.driver_connection
        taken: list[list[object]] = [[], []]

        def take(part: int, values: list[object]) -> bool:
            taken[part] += values
            return True

        extra = [("", "t.id"), ("LEFT JOIN subjects s ON s.id = t.subject_id", "s.ref")]
        along = scan_along(dbapi, REGISTRY, extra, take)
        assert along is not None and along == scan(dbapi, "sqlite", REGISTRY)
        ids = [r[0] for r in conn.execute(text("SELECT id FROM subjects ORDER BY id"))]
        refs = conn.execute(
            text(
                "SELECT s.ref FROM subject_versions v JOIN subjects s "
                "ON s.id = v.subject_id ORDER BY v.subject_id, v.version"
            )
        )
        assert taken == [ids, [r[0] for r in refs]] and len(ids) + len(taken[1]) == along[1]
        assert scan_along(dbapi, REGISTRY, extra, lambda _part, _values: False) is None
        conn.execute(text("UPDATE subjects SET city = x'00ff' WHERE id = 5"))
        assert scan_along(dbapi, REGISTRY, extra, take) is None  # JSON cannot hold a blob
