"""Field rules of a registry record, table-driven."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from vigie.registry.schema import SubjectRecord, canonical_language_tag, e164

GOOD = {
    "ref": "CIR000000001",
    "given_name": "Olena",
    "family_name": "Shevchenko",
    "given_name_native": "Олена",
    "family_name_native": "Шевченко",
    "birth_date": "1988-04-02",
    "sex": "F",
    "birth_country": "UKR",
    "nationality": "UKR",
    "preferred_language": "uk",
    "email": "olena.shevchenko@mail.example",
    "phone": "+33612345678",
    "address_line": "12 rue de la République",
    "postal_code": "69003",
    "city": "Lyon",
    "region": "84",
    "entry_date": "2022-03-10",
    "residence_reason": "temporary_protection",
    "residence_status": "temporary_protection",
    "cir_signed_on": "2022-06-01",
    "course_hours": 200,
    "course_level": "A1",
}


def test_a_good_record_passes_and_is_normalised():
    r = SubjectRecord.model_validate({**GOOD, "email": "Olena.S@MAIL.Example",
                                      "phone": "06 12 34 56 78", "preferred_language": "FA-af",
                                      "nationality": "ukr", "postal_code": "1000", "region": "84",
                                      "course_level": "a2"})  # fmt: skip
    assert r.email == "Olena.S@mail.example"
    assert r.phone == "+33612345678"
    assert r.preferred_language == "fa-AF"
    assert r.nationality == "UKR"
    assert r.postal_code == "01000"
    assert r.course_level == "A2"
    assert r.birth_date == date(1988, 4, 2)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("ref", "", "valid string"),
        ("ref", "-abc", "letters, digits"),
        ("ref", "A" * 40, "letters, digits"),
        ("given_name", "Олена", "Latin script"),
        ("family_name", "Smith3", "Latin script"),
        ("birth_date", "1988-13-01", "date"),
        ("sex", "Z", "'F', 'M' or 'X'"),
        ("nationality", "UK", "alpha-3"),
        ("nationality", "ZZZ", "alpha-3"),
        ("birth_country", "France", "alpha-3"),
        ("preferred_language", "ukrainian", "BCP 47"),
        ("preferred_language", "qq", "unknown ISO 639"),
        ("preferred_language", "en_US", "BCP 47"),
        ("email", "olena@", "e-mail"),
        ("email", "olena mail.example", "e-mail"),
        ("phone", "+33 1", "phone"),
        ("phone", "not a phone", "phone"),
        ("phone", "+33694736904", "valid phone"),
        ("postal_code", "ABCDE", "postal code"),
        ("postal_code", "99999", "postal code"),
        ("region", "99", "INSEE region"),
        ("residence_reason", "tourism", "one of"),
        ("residence_status", "citizen", "one of"),
        ("course_hours", 150, "one of"),
        ("course_level", "D1", "CEFR"),
        ("address_line", "x" * 201, "1-200"),
    ],
)  # fmt: skip
def test_bad_values_are_refused_with_a_reason(field, value, reason):
    with pytest.raises(ValidationError) as info:
        SubjectRecord.model_validate({**GOOD, field: value})
    errors = info.value.errors()
    assert any(field in map(str, e["loc"]) for e in errors), errors
    assert reason in str(info.value)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"postal_code": "75001"}, "is in region 11, not 84"),
        ({"entry_date": "1980-01-01"}, "entry_date"),
        ({"cir_signed_on": "2022-01-01"}, "cir_signed_on"),
        ({"birth_date": "1850-01-01"}, "birth_date"),
    ],
)
def test_fields_must_agree_with_each_other(change, reason):
    with pytest.raises(ValidationError, match=reason):
        SubjectRecord.model_validate({**GOOD, **change})


def test_unknown_fields_are_refused():
    with pytest.raises(ValidationError, match="extra"):
        SubjectRecord.model_validate({**GOOD, "religion": "x"})


def test_optional_fields_may_be_blank():
    r = SubjectRecord.model_validate(
        {**GOOD, "email": "", "phone": "", "given_name_native": "", "cir_signed_on": ""}
    )
    assert r.email is r.phone is r.given_name_native is r.cir_signed_on is None


@pytest.mark.parametrize(
    ("raw", "tag"),
    [("uk", "uk"), ("fa-af", "fa-AF"), ("prs", "prs"), ("zh-hans-cn", "zh-Hans-CN"),
     ("pt-BR", "pt-BR"), ("es-419", "es-419"), ("kab", "kab")],
)  # fmt: skip
def test_language_tags(raw, tag):
    assert canonical_language_tag(raw) == tag


@pytest.mark.parametrize(
    ("raw", "number"),
    [("+33612345678", "+33612345678"), ("06 12 34 56 78", "+33612345678"),
     ("0033 6 12 34 56 78", "+33612345678"), ("+33 (0)6 12 34 56 78", "+33612345678"),
     ("+380 44 123 4567", "+380441234567")],
)  # fmt: skip
def test_phone_numbers_become_e164(raw, number):
    assert e164(raw) == number
