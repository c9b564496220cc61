"""Notices: catalogues complete, exactly the person's fields, RTL and isolation, codes."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from hypothesis import given
from hypothesis import strategies as st

from vigie.breach import i18n
from vigie.breach.codes import make_code, normalise, verify_code
from vigie.breach.labels import FIELD_LABELS, label_ids
from vigie.breach.notices import LRI, PDI, NoticeContext, NoticeRenderer, Recipient
from vigie.errors import Denied
from vigie.registry.models import SUBJECT_FIELDS
from vigie.secrets import InstanceSecrets

BREACH = Path(i18n.__file__).parent
CTX = NoticeContext(
    incident_id=3,
    controller="OFII",
    phone="+33 1 00 00 00 00",
    email="dpo@controller.example",
    check_url="https://controller.example/verifier",
    aware_on=date(2026, 1, 12),
)
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def person(lang: str | None, fields: set[str], name: str = "Awa Diallo") -> Recipient:
    return Recipient(
        subject_id=7,
        ref="CIR-2025-000007",
        name=name,
        language=lang,
        fields=frozenset(fields),
        code="7KQ2-M9XD",
        email="awa@example.org",
        address="1 rue de l'Exemple\n75011 Paris",
    )


def source_msgids() -> set[str]:
    """Every message id used by the templates and the field labels."""
    method_map = [("templates/**.j2", "jinja2"), ("labels.py", "python")]
    options = {"templates/**.j2": {"extensions": "jinja2.ext.i18n"}}
    found = {
        m[2]
        for m in extract_from_dir(
            str(BREACH), method_map, options, keywords={"_": None, "gettext": None, "N_": None}
        )
    }
    return {m for m in found if isinstance(m, str)}


def test_sources_use_exactly_the_catalogued_messages() -> None:
    ids = source_msgids()
    assert len(ids) > 30
    for lang in i18n.LANGUAGES:
        with i18n.po_path(lang).open("rb") as f:
            catalog = read_po(f)
        have = {m.id: m for m in catalog if m.id}
        assert set(have) == ids, f"{lang}: catalogue and sources differ"
        for mid, message in have.items():
            assert message.string, f"{lang}: untranslated {mid!r}"
            assert not message.fuzzy, f"{lang}: fuzzy {mid!r}"
            assert sorted(PLACEHOLDER.findall(mid)) == sorted(
                PLACEHOLDER.findall(str(message.string))
            ), f"{lang}: placeholders differ in {mid!r}"


@pytest.mark.parametrize(
    ("tag", "expected"),
    [("fr", ("fr",)), ("fa-AF", ("prs",)), ("prs", ("prs",)), ("ps-AF", ("ps",)),
     ("zh-Hans", ("zh",)), ("pt-BR", ("pt",)), ("uk-UA", ("uk",)), ("he", ("he",)),
     ("iw", ("he",)), ("sw", ("fr", "en")), ("am", ("fr", "en")), (None, ("fr", "en")),
     ("ti", ("ti",)), ("ti-ER", ("ti",)), ("bn-BD", ("bn",)),
     ("EN_gb", ("en",)), ("ar-SY", ("ar",))],
)  # fmt: skip
def test_language_resolution(tag: str | None, expected: tuple[str, ...]) -> None:
    assert i18n.languages_for(tag) == expected


def test_every_registry_field_has_a_label() -> None:
    assert set(SUBJECT_FIELDS) | {"pseudonym"} == set(FIELD_LABELS)
    assert label_ids({"address_line", "postal_code", "city"}) == ["your postal address"]
    with pytest.raises(ValueError, match="no notice label"):
        label_ids({"shoe_size"})


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_notice_lists_exactly_the_exposed_fields(lang: str) -> None:
    renderer = NoticeRenderer(CTX)
    gettext = i18n.translations(lang).gettext
    exposed = {"email", "nationality"}
    notice = renderer.email(person(lang, exposed))
    for field, label in FIELD_LABELS.items():
        shown = gettext(label) in notice.text
        if field in exposed:
            assert shown, f"{lang}: exposed {field} missing"
    listed = [line for line in notice.text.splitlines() if line.startswith("- ")]
    labels = {gettext(FIELD_LABELS[f]) for f in exposed}
    assert labels <= {line[2:] for line in listed}
    assert len(listed) == len(labels) + 4  # the four "what to do" points
    assert "7KQ2-M9XD" in notice.text and "7KQ2-M9XD" in notice.html
    assert "CIR-2025-000007" in notice.subject
    direction = "rtl" if lang in i18n.RTL else "ltr"
    assert f'<html lang="{lang}" dir="{direction}">' in notice.html
    # Numbers, addresses and codes are isolated as left-to-right runs.
    assert '<bdi dir="ltr">+33 1 00 00 00 00</bdi>' in notice.html
    assert f"{LRI}+33 1 00 00 00 00{PDI}" in notice.text
    assert f"{LRI}7KQ2-M9XD{PDI}" in notice.text
    sms = renderer.sms(person(lang, exposed))
    assert "7KQ2-M9XD" in sms and gettext(FIELD_LABELS["email"]) in sms
    # Isolates only where they matter: they force UCS-2 SMS encoding.
    assert (LRI in sms) == (lang in i18n.RTL)


def test_sensitive_paragraph_only_when_sensitive_fields() -> None:
    renderer = NoticeRenderer(CTX)
    assert "residence situation" in renderer.email(person("en", {"residence_status"})).text
    assert "residence situation" not in renderer.email(person("en", {"email"})).text


def test_missing_language_gets_french_and_english() -> None:
    notice = NoticeRenderer(CTX).email(person("sw", {"phone"}))
    assert notice.languages == ("fr", "en")
    assert "votre numéro de téléphone" in notice.text and "your phone number" in notice.text
    assert '<div lang="fr"' in notice.html and '<div lang="en"' in notice.html


def test_values_are_escaped_and_people_do_not_bleed_into_each_other() -> None:
    renderer = NoticeRenderer(CTX)
    evil = renderer.email(person("en", {"email"}, name="<script>x</script> & co"))
    assert "<script>" not in evil.html and "&lt;script&gt;" in evil.html
    a = renderer.email(person("en", {"email"}, name="Awa Diallo"))
    b = renderer.email(person("en", {"email"}, name="Grace Mensah"))
    assert "Awa" in a.text and "Awa" not in b.text and "Grace" in b.text


def test_code_format_and_verification(secrets: InstanceSecrets) -> None:
    from vigie.breach.codes import code_key

    code = make_code(code_key(secrets), incident_id=1, subject_id=42)
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}", code)
    verify_code(secrets, incident_id=1, subject_id=42, code=code)
    verify_code(secrets, incident_id=1, subject_id=42, code=code.lower().replace("-", " "))
    with pytest.raises(Denied):
        verify_code(secrets, incident_id=1, subject_id=43, code=code)
    with pytest.raises(Denied):
        verify_code(secrets, incident_id=2, subject_id=42, code=code)
    with pytest.raises(Denied):
        verify_code(secrets, incident_id=1, subject_id=42, code="not a code")


def test_normalise_forgives_confusions() -> None:
    assert normalise("abcd-efgo") == "ABCD-EFG0"
    assert normalise("1lI0 o0Oo") == "1110-0000"
    assert normalise("ABCD-EFGU") == ""  # U is not in the alphabet
    assert normalise("ABC") == ""


@given(st.integers(1, 10**6), st.integers(1, 10**9))
def test_codes_round_trip(incident_id: int, subject_id: int) -> None:
    key = b"k" * 32
    code = make_code(key, incident_id=incident_id, subject_id=subject_id)
    assert normalise(code) == code
