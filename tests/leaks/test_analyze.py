"""Leak analysis end to end on a real database: linking quality, dating, exposure,
reports, encrypted storage and purge, and the CLI."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from vigie.audit.actions import Action
from vigie.audit.checkpoints import take
from vigie.audit.models import AuditEvent
from vigie.audit.trail import append
from vigie.breach import incidents
from vigie.breach.from_leak import open_from_leak
from vigie.cli.app import app
from vigie.cli.context import Instance
from vigie.errors import IntegrityError, NotFound
from vigie.leaks.analyze import analyze
from vigie.leaks.models import StoredAnalysis
from vigie.leaks.vault import load_report, purge, store_report
from vigie.registry.importer import import_file
from vigie.registry.models import SubjectVersion
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings
from vigie.store.base import utcnow
from vigie.synth.people import generate

from .helpers import (
    HEADERS_FR,
    World,
    french_phone,
    invented_rows,
    leak_rows,
    value,
    write_csv,
)

runner = CliRunner()


def _variant(world: World, sid: int, rng: random.Random) -> list[str]:
    """A row holding a person's name and one other field, written messily."""
    p = world.people[sid]
    given, family = p.given_name, p.family_name
    if rng.random() < 0.3:
        given, family = family, given  # swapped
    if rng.random() < 0.3:
        from unidecode import unidecode

        given, family = unidecode(given).upper(), unidecode(family).upper()
    other = rng.choice(["birth_date", "email", "phone", "ref"])
    if getattr(p, other) is None:
        other = "birth_date"
    row = {"given_name": given, "family_name": family}
    row[other] = value(p, other, rng.choice(["french", "plain"]))
    return [
        row.get(f, "") for f in ("given_name", "family_name", "birth_date", "email", "phone", "ref")
    ]


def test_linking_precision_and_recall(
    world: World, engine: Engine, settings: Settings, secrets: InstanceSecrets, leak_dir: Path
) -> None:
    rng = random.Random(5)
    real = rng.sample(sorted(set(world.people) - world.canaries), 600)
    rows = [_variant(world, sid, rng) for sid in real]
    fields = ["given_name", "family_name", "birth_date", "email", "phone", "ref"]
    rows += invented_rows(200, fields, 9)
    path = write_csv(leak_dir / "mixed.csv", [HEADERS_FR[f] for f in fields], rows)
    report = analyze(engine, paths=[path], secrets=secrets, settings=settings, keep_links=True)
    truth = {line: world.people[sid].ref for line, sid in enumerate(real, start=2)}
    linked = {line: ref for _file, line, ref, _conf in report.links}
    correct = sum(1 for line, ref in linked.items() if truth.get(line) == ref)
    precision = correct / len(linked)
    recall = correct / len(truth)
    assert precision >= 0.995, precision
    assert recall >= 0.98, recall
    assert all(conf >= settings.leak_match_threshold for *_x, conf in report.links)
    assert report.verdict == "mixed"


def test_old_values_date_the_leak(
    world: World,
    engine: Engine,
    sessions: sessionmaker[Session],
    settings: Settings,
    secrets: InstanceSecrets,
    leak_dir: Path,
) -> None:
    with sessions() as session:
        old = session.scalars(
            select(SubjectVersion)
            .where(SubjectVersion.phone.is_not(None))
            .order_by(SubjectVersion.subject_id)
        ).all()
    changed = [v for v in old if v.phone != world.people[v.subject_id].phone][:60]
    assert len(changed) >= 20
    rows = [
        [
            v.family_name,
            v.given_name,
            french_phone(v.phone),
            value(world.people[v.subject_id], "ref"),
        ]
        for v in changed
    ]
    path = write_csv(leak_dir / "old.csv", ["nom", "prenom", "tel", "num_dossier"], rows)
    report = analyze(engine, paths=[path], secrets=secrets, settings=settings)
    window = report.leak_window
    assert window is not None and window["rows_with_superseded_values"] >= 20
    latest = max(v.valid_to for v in changed)
    assert window["latest"] is not None
    assert window["latest"] <= latest.isoformat()


def test_exposure_reports_and_storage(
    world: World,
    engine: Engine,
    sessions: sessionmaker[Session],
    settings: Settings,
    secrets: InstanceSecrets,
    leak_dir: Path,
) -> None:
    with_email = {i for i, p in world.people.items() if p.email}
    ids = sorted((world.received["lingua-idf"] & with_email) - world.canaries)[:40]
    payload = '=HYPERLINK("http://evil.invalid","<script>x</script>")'
    rows = [
        [world.people[i].family_name, world.people[i].given_name, world.people[i].email or "",
         world.people[i].nationality, payload]
        for i in ids
    ]  # fmt: skip
    path = write_csv(
        leak_dir / "exp.csv", ["nom", "prenom", "courriel", "nationalite", "<b>note</b>"], rows
    )
    report = analyze(engine, paths=[path], secrets=secrets, settings=settings)
    assert report.affected_subjects == 40
    data = report.as_dict()
    assert {"rows", "rejected_rows", "columns", "matched_rows", "affected_subjects", "verdict",
            "attribution", "leak_window"} <= set(data)  # fmt: skip
    refs = {a["ref"] for a in data["affected"]}
    assert refs == {world.people[i].ref for i in ids}
    assert set(data["affected"][0]["fields"]) >= {"given_name", "family_name", "nationality"}
    assert sum(data["categories"]["nationality"].values()) == 40
    assert data["exposures"] == {a["ref"]: a["fields"] for a in data["affected"]}
    assert json.loads(report.to_json()) == json.loads(report.to_json(indent=True)) == data
    first = report.as_dict(people=5)  # what the HTML report shows of the people
    assert first["affected"] == data["affected"][:5] and len(first["exposures"]) == 5
    html = report.render_html()
    assert "<b>note</b>" not in html and "&lt;b&gt;note&lt;/b&gt;" in html
    # What the values of each column showed, in the JSON and on the page.
    said = "evidence (40 present, 100% agree with the registry)"
    assert data["field_evidence"]["nationality"]["verdict"] == "evidence"
    assert [c["evidence"] for c in data["columns"] if c["kind"] == "nationality"] == [said]
    assert said in html
    out = leak_dir / "affected.csv"
    report.write_affected_csv(out)
    lines = out.read_text().splitlines()
    assert lines[0].startswith("ref,") and len(lines) == 41

    with sessions.begin() as session:
        stored = store_report(
            session, report=report, secrets=secrets, settings=settings, actor="operator:test"
        )
    with sessions() as session:
        row = session.get(StoredAnalysis, stored)
        assert row is not None and payload.encode() not in row.ciphertext
        assert load_report(session, analysis_id=stored, secrets=secrets)["affected_subjects"] == 40
        actions = set(session.scalars(select(AuditEvent.action)))
        assert "leak:analyze" in actions
    with sessions.begin() as session:
        assert purge(session, actor="operator:test") == 0
        later = utcnow() + timedelta(days=settings.leak_retention_days + 1)
        assert purge(session, actor="operator:test", now=later) == 1
    with sessions() as session, pytest.raises(NotFound):
        load_report(session, analysis_id=stored, secrets=secrets)
    with sessions() as session:
        assert "leak:purge" in set(session.scalars(select(AuditEvent.action)))


def test_cli_analyze_list_purge(
    world: World, engine: Engine, settings: Settings, leak_dir: Path
) -> None:
    with_email = {i for i, p in world.people.items() if p.email}
    ids = sorted((world.received["civic-ara"] & with_email) - world.canaries)[:50]
    rows = [[world.people[i].given_name, world.people[i].family_name, world.people[i].email or ""]
            for i in ids]  # fmt: skip
    path = write_csv(leak_dir / "cli.csv", ["prenom", "nom", "courriel"], rows)
    obj = Instance(settings=settings, _engine=engine)
    out_json, out_html, out_csv = leak_dir / "r.json", leak_dir / "r.html", leak_dir / "a.csv"
    result = runner.invoke(
        app,
        ["leak", "analyze", str(path), "--json", str(out_json), "--html", str(out_html),
         "--affected-out", str(out_csv)],
        obj=obj,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Verdict" in result.output
    report = json.loads(out_json.read_text())
    assert report["attribution"][0]["processor"] == "civic-ara"
    assert out_html.read_text().startswith("<!doctype html>")
    assert len(out_csv.read_text().splitlines()) == 51
    with Session(engine) as session, session.begin():
        incident = open_from_leak(session, report=report, actor="operator:test")
        assert incident.processor_id == world.processors["civic-ara"]
        assert len(incidents.exposures_of(session, incident_id=incident.id)) == 50
    listed = runner.invoke(app, ["leak", "list", "--json"], obj=obj)
    assert listed.exit_code == 0 and json.loads(listed.output)[0]["verdict"] == "authentic"
    prepared = runner.invoke(app, ["leak", "prepare"], obj=obj)
    assert prepared.exit_code == 0 and "already up to date" in prepared.output
    purged = runner.invoke(app, ["leak", "purge"], obj=obj)
    assert purged.exit_code == 0 and "Purged 0" in purged.output
    junk = leak_dir / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 10)
    bad = runner.invoke(app, ["leak", "analyze", str(junk)], obj=obj)
    assert bad.exit_code == 1
    assert "not a text" in bad.output and "Traceback" not in bad.output


def test_registry_snapshot_is_encrypted_reused_and_refreshed(
    world: World,
    engine: Engine,
    sessions: sessionmaker[Session],
    settings: Settings,
    secrets: InstanceSecrets,
    leak_dir: Path,
) -> None:
    ids = sorted(world.received["lingua-idf"] - world.canaries)[:30]
    rows = [[world.people[i].given_name, world.people[i].family_name, world.people[i].ref]
            for i in ids]  # fmt: skip
    path = write_csv(leak_dir / "snap.csv", ["prenom", "nom", "num_dossier"], rows)
    first = analyze(engine, paths=[path], secrets=secrets, settings=settings)
    second = analyze(engine, paths=[path], secrets=secrets, settings=settings)
    assert not first.registry_from_snapshot and second.registry_from_snapshot
    assert second.affected_subjects == first.affected_subjects == 30
    cache = settings.data_dir / "leak-cache"
    assert sorted(f.name for f in cache.iterdir()) == ["registry.enc"]
    blob = (cache / "registry.enc").read_bytes()
    assert world.people[ids[0]].ref.encode() not in blob
    assert (cache.stat().st_mode & 0o777) == 0o700
    # The decrypted snapshot lived in the analysis' work directory, gone with it.
    assert list((settings.data_dir / "leak-work").iterdir()) == []
    newcomer = generate(1, seed=77).record(0)  # the registry changes through Vigie
    header = list(newcomer)
    write_csv(
        leak_dir / "new.csv", header, [["" if v is None else str(v) for v in newcomer.values()]]
    )
    with sessions.begin() as session:
        import_file(session, path=leak_dir / "new.csv", actor="operator:test")
    third = analyze(engine, paths=[path], secrets=secrets, settings=settings)
    assert not third.registry_from_snapshot
    # A snapshot changed on disk (one byte, in its first chunk) is rebuilt, never trusted.
    damaged = bytearray((cache / "registry.enc").read_bytes())
    assert len(damaged) > 1 << 20  # more than one 1 MiB chunk: the sealing is streamed
    damaged[len(damaged) // 2] ^= 1
    (cache / "registry.enc").write_bytes(bytes(damaged))
    fourth = analyze(engine, paths=[path], secrets=secrets, settings=settings)
    assert not fourth.registry_from_snapshot and fourth.affected_subjects == 30


def test_attribution_refuses_an_index_that_does_not_verify(
    world: World, engine: Engine, settings: Settings, secrets: InstanceSecrets, leak_dir: Path
) -> None:
    """The review's case: clearing a processor's rows from the served index must not
    clear it of the leak; attribution refuses, and says why, instead of naming nobody."""
    name = "lingua-idf"
    fields = ["given_name", "family_name", "email"]
    rows = leak_rows(world, name, sorted(world.real_received(name))[:50], fields)
    path = write_csv(leak_dir / "dump.csv", [HEADERS_FR[f] for f in fields], rows)
    report = analyze(engine, paths=[path], secrets=secrets, settings=settings)
    assert [a["processor"] for a in report.attribution][:1] == [name]
    with engine.begin() as conn:
        conn.execute(
            text("DELETE FROM audit_disclosures WHERE processor_id = :p"),
            {"p": world.processors[name]},
        )
    with pytest.raises(IntegrityError) as info:
        analyze(engine, paths=[path], secrets=secrets, settings=settings)
    message = str(info.value)
    assert message.startswith("the audit trail does not verify: served index: "), message
    assert message.endswith("attribution refused — run `vigie audit verify`"), message


def test_attribution_refuses_a_trail_unanchored_beyond_the_bound(
    world: World, engine: Engine, leak_dir: Path, secrets: InstanceSecrets, settings: Settings
) -> None:
    """A disclosure event written two hours ago that no checkpoint covers could be removed
    or rewritten without trace (and the chain recomputed): attribution is refused, and
    says what to do. Anchored, the same analysis runs."""
    name = "lingua-idf"
    fields = ["given_name", "family_name", "email"]
    rows = leak_rows(world, name, sorted(world.real_received(name))[:50], fields)
    path = write_csv(leak_dir / "dump.csv", [HEADERS_FR[f] for f in fields], rows)
    with Session(engine) as s, s.begin():
        append(s, action=Action.SUBJECT_EXPORT, actor="operator:test", detail={"count": 0},
               at=utcnow() - timedelta(hours=2))  # fmt: skip
    with pytest.raises(IntegrityError) as info:
        analyze(engine, paths=[path], secrets=secrets, settings=settings)
    message = str(info.value)
    assert message.startswith("UNANCHORED: 1 event after checkpoint #1, the oldest 2 h"), message
    assert message.endswith(
        "attribution refused — find out why no checkpoint was taken, then sign one with "
        "`vigie audit checkpoint`"
    ), message
    with Session(engine) as s, s.begin():
        take(s, signing_key=secrets.signing_key, actor="operator:cli")
    report = analyze(engine, paths=[path], secrets=secrets, settings=settings)
    assert [a["processor"] for a in report.attribution][:1] == [name]


def test_attribution_refuses_a_real_person_turned_into_a_canary(
    world: World, engine: Engine, leak_dir: Path, secrets: InstanceSecrets, settings: Settings
) -> None:
    """Flagging a real person of the dump a canary in the store would make the dump hold a
    "canary" that the processor received: attribution refuses instead."""
    name = "lingua-idf"
    fields = ["given_name", "family_name", "email"]
    people = sorted(world.real_received(name))[:50]
    path = write_csv(leak_dir / "dump.csv", [HEADERS_FR[f] for f in fields],
                     leak_rows(world, name, people, fields))  # fmt: skip
    assert (
        analyze(engine, paths=[path], secrets=secrets, settings=settings).affected.canary_count == 0
    )
    with engine.begin() as conn:
        conn.execute(text("UPDATE subjects SET is_canary = :t WHERE id = :i"),
                     {"t": True, "i": people[0]})  # fmt: skip
    with pytest.raises(IntegrityError) as info:
        analyze(engine, paths=[path], secrets=secrets, settings=settings)
    assert str(info.value).startswith(
        f"the audit trail does not verify: canaries: person id {people[0]} is flagged a canary"
    )


def test_the_registry_snapshot_is_checked_against_the_seals(
    world: World,
    engine: Engine,
    settings: Settings,
    secrets: InstanceSecrets,
    leak_dir: Path,
) -> None:
    """The gate reads no sealed row back; the snapshot's rows were checked against the
    seals when it was built. A registry altered behind Vigie's back before the snapshot
    refuses attribution — even through a snapshot `vigie leak prepare` built from it —;
    altered after, the triage reads the rows as they were sealed (and `vigie audit
    verify` finds the change)."""
    from vigie.audit.verify import verify_trail
    from vigie.leaks.snapshot import prepare

    ids = sorted(world.received["lingua-idf"] - world.canaries)[:30]
    rows = [[world.people[i].given_name, world.people[i].family_name, world.people[i].ref]
            for i in ids]  # fmt: skip
    path = write_csv(leak_dir / "sealed.csv", ["prenom", "nom", "num_dossier"], rows)
    victim = ids[0]
    city = world.people[victim].city

    def alter(to: str | None) -> None:
        with engine.begin() as conn:
            conn.execute(text("UPDATE subjects SET city = :c WHERE id = :i"),
                         {"c": to, "i": victim})  # fmt: skip

    alter("Tamperville")
    with pytest.raises(IntegrityError) as info:  # cold: the snapshot is built here
        analyze(engine, paths=[path], secrets=secrets, settings=settings)
    message = str(info.value)
    assert message.startswith("the registry is not as the audit trail last sealed it"), message
    assert message.endswith("attribution refused — run `vigie audit verify`"), message
    assert "Tamperville" not in message
    assert not (settings.data_dir / "leak-cache" / "registry.enc").exists()
    with engine.connect() as conn:  # prepare verifies nothing: it builds, as the rows are
        prepare(conn, data_dir=settings.data_dir, secrets=secrets, limit_mb=512)
    with pytest.raises(IntegrityError, match="not as the audit trail last sealed it"):
        analyze(engine, paths=[path], secrets=secrets, settings=settings)
    alter(city)
    first = analyze(engine, paths=[path], secrets=secrets, settings=settings)
    assert not first.registry_from_snapshot and first.affected_subjects == 30
    alter("Tamperville")  # after the snapshot: same fingerprint, same sealed state
    second = analyze(engine, paths=[path], secrets=secrets, settings=settings, keep_links=True)
    assert second.registry_from_snapshot and second.affected_subjects == 30
    with pytest.raises(IntegrityError, match="no longer matches its seal"):
        verify_trail(engine, public_key=secrets.audit_keys)
