"""Encodings and mojibake: spotting text decoded twice, and repairing it."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from vigie.leaks.encodings import repair_text, shows_mojibake


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="aÃÂâ©\u0080\u2019\u20ac\u2013é\n", max_size=40))
def test_mojibake_is_spotted_as_its_pattern_says(text: str) -> None:
    pattern = re.compile(
        "[ÃÂâ][\u0080-\u00ff\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u2018-\u203a\u20ac]"
    )
    assert shows_mojibake(text) == bool(pattern.search(text))


def test_repair_only_touches_text_that_shows_mojibake() -> None:
    assert repair_text("Ã‰lodie MÃ¼ller") == "Élodie Müller"
    plain = "Benoît Châtelain, âgé de 30 ans"  # "â" followed by a plain letter
    assert not shows_mojibake(plain) and repair_text(plain) is plain
