"""The authority pack: every Art. 33(3) item filled from evidence; phases; the register."""

from __future__ import annotations

import csv
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text, update
from sqlalchemy.orm import Session, sessionmaker

from vigie.audit.checkpoints import fingerprint
from vigie.breach import incidents
from vigie.breach.assessment import assess_incident
from vigie.breach.authority import NOT_GIVEN, prepare_pack, write_pack
from vigie.breach.authority_render import SECTIONS, render_html
from vigie.breach.clock import FixedClock
from vigie.breach.register import entries, export
from vigie.errors import IntegrityError
from vigie.processors.models import Processor
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings

ACTOR = "operator:test"


def leak_incident(s: Session, subject_ids: list[int], processor_id: int, clock: FixedClock) -> int:
    inc = incidents.open_incident(
        s, title="Dump on sale", source="leak", aware_at=clock.now(), actor=ACTOR,
        processor_id=processor_id, summary="A file of CIR signatories was offered for sale.",
        evidence={"ref": "leak-report:1", "rows": 20, "leak_window": {"from": "2025-11-01",
                  "to": "2025-12-15"}},
    )  # fmt: skip
    incidents.record_exposure(
        s, incident_id=inc.id,
        exposures={sid: ["given_name", "family_name", "email", "nationality"]
                   for sid in subject_ids[:10]},
        actor=ACTOR,
    )  # fmt: skip
    assess_incident(s, incident_id=inc.id, actor=ACTOR, malicious=True)
    return inc.id


def test_pack_fills_every_item_from_evidence(
    sessions: sessionmaker[Session], settings: Settings, subject_ids: list[int],
    processor_id: int, clock: FixedClock, tmp_path: Path, secrets: InstanceSecrets,
) -> None:  # fmt: skip
    with sessions.begin() as s:
        incident_id = leak_incident(s, subject_ids, processor_id, clock)
        s.execute(update(Processor).values(suspended_at=clock.now() + timedelta(minutes=5),
                                           suspended_reason="bulk extraction"))  # fmt: skip
        incidents.record_processor_duty(s, incident_id=incident_id, actor=ACTOR,
                                        informed_at=None, note="learned from the sale")  # fmt: skip
        row = prepare_pack(s, settings, incident_id=incident_id, actor=ACTOR, clock=clock,
                           audit_key=secrets.verify_key)  # fmt: skip
        paths = write_pack(row, out_dir=tmp_path)
    content = json.loads(paths["json"].read_text())
    for _, key in SECTIONS:
        assert content[key], f"section {key} empty"
    assert content["controller"]["dpo"]["email"] == settings.dpo_email
    assert content["people"]["approximate_number"] == 10
    categories = " ".join(content["people"]["categories"])  # the declared population context
    assert "being in the registry reveals recent immigration" in categories
    assert "vulnerable people among them: refugees and asylum seekers" in categories
    assert content["records"]["approximate_number"] == 20
    assert content["records"]["people_by_field"]["nationality"] == 10
    assert content["records"]["people_by_data_category"][
        "residence and origin (sensitive for this population)"] == 10  # fmt: skip
    assert content["processor"]["name"] == "lingua"
    assert content["processor"]["art_33_2_duty"]["note"] == "learned from the sale"
    assert content["likely_consequences"]["level"] == "high"
    assert any("suspended" in m["measure"] for m in content["measures_taken"])
    assert content["breach"]["period_of_breach"] == {"from": "2025-11-01", "to": "2025-12-15"}
    assert content["delay"]["hours_past_72"] == 0
    assert content["phase"]["number"] == 1
    assert NOT_GIVEN not in json.dumps(content)
    # The CNIL learns the audit key's fingerprint here, independently of any export.
    real = fingerprint(secrets.verify_key)
    assert content["audit_trail"]["signing_key_fingerprint"] == real
    md = paths["markdown"].read_text()
    assert all(title in md for title, _ in SECTIONS)
    assert real in md and "--fingerprint " + real in md
    assert real in render_html(content)
    assert paths["pdf"].read_bytes().startswith(b"%PDF")


def test_complementary_phase_lists_changes_and_delay(
    sessions: sessionmaker[Session], settings: Settings, subject_ids: list[int],
    processor_id: int, clock: FixedClock, secrets: InstanceSecrets,
) -> None:  # fmt: skip
    with sessions.begin() as s:
        incident_id = leak_incident(s, subject_ids, processor_id, clock)
        first = prepare_pack(s, settings, incident_id=incident_id, actor=ACTOR, clock=clock,
                             audit_key=secrets.verify_key)  # fmt: skip
        assert first.phase == 1
        incidents.record_exposure(s, incident_id=incident_id,
                                  exposures={subject_ids[12]: ["phone"]}, actor=ACTOR)  # fmt: skip
        clock.advance(timedelta(hours=80))
        second = prepare_pack(s, settings, incident_id=incident_id, actor=ACTOR,
                              complementary=True, clock=clock,
                              audit_key=secrets.verify_key)  # fmt: skip
    assert second.phase == 2
    changed = {c["item"]: c for c in second.content["phase"]["changes_since_previous"]}
    assert changed["people.approximate_number"]["before"] == 10
    assert changed["people.approximate_number"]["after"] == 11
    assert "records.people_by_field.phone" in changed
    assert second.content["delay"]["hours_past_72"] == 8.0
    assert "NOT RECORDED" in second.content["delay"]["reason"]


def test_pack_refuses_an_index_that_does_not_verify(
    sessions: sessionmaker[Session], settings: Settings, subject_ids: list[int],
    processor_id: int, clock: FixedClock, secrets: InstanceSecrets,
) -> None:  # fmt: skip
    """A disclosure row with no event behind it (framing the processor) must not reach
    the authority: the pack is refused, and says why."""
    with sessions.begin() as s:
        incident_id = leak_incident(s, subject_ids, processor_id, clock)
    with sessions.begin() as s:
        s.execute(
            text("INSERT INTO audit_disclosures (processor_id, at_us, seq, subject_id) "
                 "VALUES (:p, 0, 1, :sid)"),
            {"p": processor_id, "sid": subject_ids[0]},
        )  # fmt: skip
    with sessions.begin() as s, pytest.raises(IntegrityError) as info:
        prepare_pack(s, settings, incident_id=incident_id, actor=ACTOR, clock=clock,
                     audit_key=secrets.verify_key)  # fmt: skip
    assert "index row with no event behind it" in str(info.value)
    assert "the authority pack refused" in str(info.value)


def test_pack_refuses_a_trail_unanchored_beyond_the_bound(
    sessions: sessionmaker[Session], settings: Settings, subject_ids: list[int],
    processor_id: int, clock: FixedClock, secrets: InstanceSecrets,
) -> None:  # fmt: skip
    """The incident's events follow the last checkpoint; beyond the configured bound they
    could be rewritten without trace, so the pack (whose figures they back) is refused."""
    with sessions.begin() as s:
        incident_id = leak_incident(s, subject_ids, processor_id, clock)
    strict = settings.model_copy(update={"audit_max_unanchored_events": 1})
    with sessions.begin() as s, pytest.raises(IntegrityError) as info:
        prepare_pack(s, strict, incident_id=incident_id, actor=ACTOR, clock=clock,
                     audit_key=secrets.verify_key)  # fmt: skip
    message = str(info.value)
    assert message.startswith("UNANCHORED: ") and "after checkpoint #1" in message, message
    assert "(bound: 1 events" in message and "the authority pack refused" in message
    with sessions.begin() as s:  # within the default bound, it is prepared
        row = prepare_pack(s, settings, incident_id=incident_id, actor=ACTOR, clock=clock,
                           audit_key=secrets.verify_key)  # fmt: skip
        assert row.phase == 1


def test_register_lists_every_incident(
    sessions: sessionmaker[Session], subject_ids: list[int], processor_id: int,
    clock: FixedClock, tmp_path: Path,
) -> None:  # fmt: skip
    with sessions.begin() as s:
        leak_incident(s, subject_ids, processor_id, clock)
        quiet = incidents.open_incident(s, title="=HYPERLINK(1)", source="manual",
                                        aware_at=clock.now(), actor=ACTOR)  # fmt: skip
        incidents.update_register(s, incident_id=quiet.id, actor=ACTOR,
                                  effects="none", remedial_action="closed the share")  # fmt: skip
        rows = entries(s)
        assert [r["incident_id"] for r in rows] == [1, 2]
        assert rows[0]["risk_level"] == "high" and rows[1]["risk_level"] is None
        assert export(s, out=tmp_path / "register.csv") == 2
        assert export(s, out=tmp_path / "register.json") == 2
    with (tmp_path / "register.csv").open() as f:
        got = list(csv.DictReader(f))
    assert got[1]["title"] == "'=HYPERLINK(1)"  # no formula injection
    assert got[1]["remedial_action"] == "closed the share"
