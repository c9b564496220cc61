"""The draft formal notice cites the contracts, each requirement breached, and the duty."""

from __future__ import annotations

from typing import Any

from vigie.requirements.notice import formal_notice


def _content(**over: Any) -> dict[str, Any]:
    content: dict[str, Any] = {
        "controller": {"name": "OFII (test)", "dpo": "Délégué à la protection des données"},
        "processor": {"legal_name": "Bad Test SARL (fictitious)", "siren": "732101373"},
        "incident": {"id": 3, "title": "Leaked file", "aware_at": "2027-03-05T10:00:00+00:00"},
        "contracts": [{"reference": "OFII-TEST-2"}],
        "breached": [
            {
                "id": "key-allow-list",
                "version": 2,
                "deadline": "2027-03-01",
                "clauses": ["Security annex §4"],
                "text_fr": "Chaque clé a une liste d'adresses.",
                "reasons": ["key 4 has no IP allow-list"],
            },
        ],
        "processor_duty": {"informed_controller_at": None},
        "cited": [1, 2, 3],
    }
    content.update(over)
    return content


def test_the_notice_cites_what_was_breached() -> None:
    text = formal_notice(_content())
    assert "contrats OFII-TEST-2" in text and "incident n° 3" in text
    assert "Le 05/03/2027, nous avons eu connaissance" in text
    assert (
        "- **key-allow-list** (version 2, échéance 01/03/2027) (Security annex §4) : « Chaque "
        "clé a une liste d'adresses. » — constat : key 4 has no IP allow-list." in text
    )
    assert "aucune notification de votre part" in text
    assert text.rstrip().endswith("Le délégué à la protection des données")


def test_the_notice_says_when_the_processor_informed_the_controller() -> None:
    text = formal_notice(
        _content(
            processor_duty={"informed_controller_at": "2027-03-06T08:00:00+00:00"},
            controller={"name": "OFII (test)", "dpo": "Camille Durand"},
        )
    )
    assert "Vous nous avez informés le 06/03/2027." in text
    assert text.rstrip().endswith("Le délégué à la protection des données, Camille Durand")
