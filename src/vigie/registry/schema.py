"""What a valid person looks like: one pydantic model checking every field of a record.

Used by the import (every row of a file) and usable by anyone who must check a record.
Values are normalised as they are checked — a phone in any usual format becomes E.164,
a language tag gets its canonical case, an e-mail's domain is lower-cased — so the
same person written twice in different styles is the same record.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from functools import cache
from typing import Any, Literal

import phonenumbers
import pycountry
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from vigie.registry.france import REGIONS, region_of_postal_code

RESIDENCE_REASONS: tuple[str, ...] = (
    "family", "work", "studies", "asylum", "temporary_protection", "humanitarian", "other",
)  # fmt: skip
RESIDENCE_STATUSES: tuple[str, ...] = (
    "refugee", "subsidiary_protection", "temporary_protection", "temporary_permit",
    "multi_year_permit", "resident_card", "other",
)  # fmt: skip
COURSE_HOURS: tuple[int, ...] = (0, 100, 200, 400, 600)  # 0: exempt (level already met)
CEFR_LEVELS: tuple[str, ...] = ("A1", "A2", "B1", "B2", "C1", "C2")
# ICAO codes used on travel documents for stateless people and refugees.
EXTRA_NATIONALITIES = frozenset({"XXA", "XXB", "XXC", "XXX"})

_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,31}")
_EMAIL = re.compile(r"[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+")
# BCP 47 language tag: language[-script][-region][-variant]* (no extensions / private use).
_BCP47 = re.compile(
    r"(?P<lang>[A-Za-z]{2,3})(?:-(?P<script>[A-Za-z]{4}))?(?:-(?P<region>[A-Za-z]{2}|\d{3}))?"
    r"(?:-(?:[A-Za-z0-9]{5,8}|\d[A-Za-z0-9]{3}))*"
)
_NAME_PUNCT = set(" -'’.")


@cache
def _alpha3() -> frozenset[str]:
    return frozenset(c.alpha_3 for c in pycountry.countries) | EXTRA_NATIONALITIES


def _known_language(code: str) -> bool:
    field = "alpha_2" if len(code) == 2 else "alpha_3"
    return pycountry.languages.get(**{field: code}) is not None


def canonical_language_tag(value: str) -> str:
    """``value`` as a canonical BCP 47 tag (``fa-af`` -> ``fa-AF``), or ValueError."""
    match = _BCP47.fullmatch(value.strip())
    if not match:
        raise ValueError("not a BCP 47 language tag (e.g. 'uk', 'fa-AF', 'pt-BR')")
    lang = match["lang"].lower()
    if not _known_language(lang):
        raise ValueError(f"unknown ISO 639 language code {lang!r}")
    parts = value.strip().split("-")
    out = [lang]
    for part in parts[1:]:
        if len(part) == 4 and part.isalpha():
            out.append(part.title())
        elif (len(part) == 2 and part.isalpha()) or (len(part) == 3 and part.isdigit()):
            out.append(part.upper())
        else:
            out.append(part.lower())
    return "-".join(out)


def e164(value: str) -> str:
    """A phone number in any usual format (national numbers read as French) as E.164."""
    text = value.strip().replace("(0)", "")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, "FR")
    except phonenumbers.NumberParseException as exc:
        raise ValueError("not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number (unassigned range or wrong length)")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def _latin(value: str) -> bool:
    for ch in value:
        if ch in _NAME_PUNCT:
            continue
        if not ch.isalpha() or not unicodedata.name(ch, "").startswith("LATIN"):
            return False
    return True


class SubjectRecord(BaseModel):
    """One person as the controller records them (every field of ``SUBJECT_FIELDS``)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    ref: str
    given_name: str
    family_name: str
    given_name_native: str | None = None
    family_name_native: str | None = None
    birth_date: date
    sex: Literal["F", "M", "X"]
    birth_country: str
    nationality: str
    preferred_language: str
    email: str | None = None
    phone: str | None = None
    address_line: str
    postal_code: str
    city: str
    region: str
    entry_date: date
    residence_reason: str
    residence_status: str
    cir_signed_on: date | None = None
    course_hours: int
    course_level: str

    @model_validator(mode="before")
    @classmethod
    def _blank_is_missing(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: (None if v == "" else v) for k, v in data.items()}
        return data

    @field_validator("ref")
    @classmethod
    def _ref(cls, v: str) -> str:
        if not _REF.fullmatch(v):
            raise ValueError("must be 1-32 letters, digits or . _ / - (starting alphanumeric)")
        return v

    @field_validator("given_name", "family_name")
    @classmethod
    def _latin_name(cls, v: str) -> str:
        if not v or len(v) > 100:
            raise ValueError("must be 1-100 characters")
        if not _latin(v):
            raise ValueError("must be in Latin script (put the native form in the *_native field)")
        return v

    @field_validator("given_name_native", "family_name_native", "city")
    @classmethod
    def _short_text(cls, v: str | None) -> str | None:
        if v is not None and len(v) > 100:
            raise ValueError("must be at most 100 characters")
        return v

    @field_validator("address_line")
    @classmethod
    def _address(cls, v: str) -> str:
        if not v or len(v) > 200:
            raise ValueError("must be 1-200 characters")
        return v

    @field_validator("postal_code")
    @classmethod
    def _postal(cls, v: str) -> str:
        code = v.zfill(5) if v.isdigit() and len(v) == 4 else v  # spreadsheets drop the 0
        if region_of_postal_code(code) is None:
            raise ValueError("not a French postal code")
        return code

    @field_validator("birth_country", "nationality")
    @classmethod
    def _country(cls, v: str) -> str:
        code = v.upper()
        if code not in _alpha3():
            raise ValueError("not an ISO 3166-1 alpha-3 country code (e.g. 'UKR')")
        return code

    @field_validator("preferred_language")
    @classmethod
    def _language(cls, v: str) -> str:
        return canonical_language_tag(v)

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        if v is None:
            return None
        if len(v) > 254 or not _EMAIL.fullmatch(v):
            raise ValueError("not an e-mail address")
        local, _, domain = v.rpartition("@")
        return f"{local}@{domain.lower()}"

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        return None if v is None else e164(v)

    @field_validator("region")
    @classmethod
    def _region(cls, v: str) -> str:
        code = v.zfill(2)
        if code not in REGIONS:
            raise ValueError("not an INSEE region code (e.g. '11' for Île-de-France)")
        return code

    @field_validator("residence_reason")
    @classmethod
    def _reason(cls, v: str) -> str:
        if v not in RESIDENCE_REASONS:
            raise ValueError(f"must be one of {', '.join(RESIDENCE_REASONS)}")
        return v

    @field_validator("residence_status")
    @classmethod
    def _status(cls, v: str) -> str:
        if v not in RESIDENCE_STATUSES:
            raise ValueError(f"must be one of {', '.join(RESIDENCE_STATUSES)}")
        return v

    @field_validator("course_hours")
    @classmethod
    def _hours(cls, v: int) -> int:
        if v not in COURSE_HOURS:
            raise ValueError(f"must be one of {', '.join(map(str, COURSE_HOURS))}")
        return v

    @field_validator("course_level")
    @classmethod
    def _level(cls, v: str) -> str:
        if v.upper() not in CEFR_LEVELS:
            raise ValueError(f"must be a CEFR level ({', '.join(CEFR_LEVELS)})")
        return v.upper()

    @model_validator(mode="after")
    def _coherent(self) -> SubjectRecord:
        actual = region_of_postal_code(self.postal_code)
        if actual != self.region:
            raise ValueError(
                f"postal_code: {self.postal_code} is in region {actual}, not {self.region}"
            )
        if self.birth_date.year < 1900 or self.birth_date > date.today():
            raise ValueError("birth_date: must be between 1900 and today")
        if self.entry_date < self.birth_date or self.entry_date > date.today():
            raise ValueError("entry_date: must be after birth_date and not in the future")
        if self.cir_signed_on is not None and self.cir_signed_on < self.entry_date:
            raise ValueError("cir_signed_on: must not be before entry_date")
        return self
