"""The processor API's documented shapes (OpenAPI only: responses are encoded with orjson).

Which fields a person record holds depends on the caller's contract; every field but
``pseudonym`` is therefore optional here, and a masked field changes its form (a birth
date masked ``year`` is the integer year, ``month`` gives ``"YYYY-MM"``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from vigie.policy.writeback import CEFR_LEVELS, MAX_ATTENDANCE_HOURS

_PSEUDONYM = "u5i2mmybhvptruah2pv6s7zf7u"
_PSEUDONYM_2 = "mqzno4mqjsz2g55gewm5mtqfby"
_Date = int | str | None


class SubjectRecord(BaseModel):
    """One person as the caller's contract shows them: allowed fields only, masked."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "pseudonym": _PSEUDONYM,
                    "given_name": "Amina",
                    "family_name": "Diallo",
                    "birth_date": 1994,
                    "preferred_language": "fr",
                    "email": "amina.diallo@mail.example",
                    "postal_code": "93",
                    "course_hours": 200,
                    "course_level": "A1",
                }
            ]
        }
    )

    pseudonym: str = Field(
        description="This person's identifier towards you: stable, yours only (26 characters)."
    )
    ref: str | None = Field(
        None, description="The controller's file number (if your contract lists it)."
    )
    given_name: str | None = None
    family_name: str | None = None
    given_name_native: str | None = None
    family_name_native: str | None = None
    birth_date: _Date = Field(None, description="YYYY-MM-DD, or masked: year (integer) or YYYY-MM.")
    sex: str | None = None
    birth_country: str | None = Field(None, description="ISO 3166-1 alpha-3.")
    nationality: str | None = Field(None, description="ISO 3166-1 alpha-3.")
    preferred_language: str | None = Field(None, description="BCP 47 language tag.")
    email: str | None = Field(None, description="E-mail address, or masked: its domain.")
    phone: str | None = Field(None, description="E.164 number, or masked: its last 4 digits.")
    address_line: str | None = None
    postal_code: str | None = Field(None, description="Postal code, or masked: department code.")
    city: str | None = None
    region: str | None = Field(None, description="INSEE region code.")
    entry_date: _Date = Field(None, description="YYYY-MM-DD, or masked: year or YYYY-MM.")
    residence_reason: str | None = None
    residence_status: str | None = None
    cir_signed_on: _Date = Field(None, description="YYYY-MM-DD, or masked: year or YYYY-MM.")
    course_hours: int | None = None
    course_level: str | None = Field(None, description="CEFR target level, e.g. A1.")


class SubjectPage(BaseModel):
    """A page of the people in your scope."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "data": [
                        {"pseudonym": _PSEUDONYM, "given_name": "Amina", "birth_date": 1994},
                        {"pseudonym": _PSEUDONYM_2, "given_name": "Tarek", "birth_date": 1988},
                    ],
                    "next_cursor": "AQAAAAcAAAAAaWk3...",
                    "limit": 2,
                }
            ]
        }
    )

    data: list[SubjectRecord]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null when the listing is complete."
    )
    limit: int = Field(description="The page size asked for.")


class WriteBack(BaseModel):
    """Facts your contract lets you record about a person; send at least one field."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"attendance_hours": 12, "attended_on": "2026-03-02"}]},
    )

    attendance_hours: int | None = Field(
        None, ge=0, le=MAX_ATTENDANCE_HOURS, description="Hours of course attended."
    )
    attended_on: str | None = Field(None, description="Day of the session attended, YYYY-MM-DD.")
    course_completed: bool | None = Field(None, description="Whether the course is completed.")
    session_booked: str | None = Field(None, description="Day of the next session, YYYY-MM-DD.")
    course_level_reached: str | None = Field(
        None, description=f"CEFR level reached: {', '.join(CEFR_LEVELS)}."
    )


class WriteReceipt(BaseModel):
    """The write-back was recorded (and audited)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"event_id": 41, "pseudonym": _PSEUDONYM, "recorded": {"attendance_hours": 12}}
            ]
        }
    )

    event_id: int
    pseudonym: str
    recorded: dict[str, int | bool | str]


class Health(BaseModel):
    """The gateway answers and its database too."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})

    status: str


class Problem(BaseModel):
    """An RFC 9457 problem document (``application/problem+json``)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "https://vigie.example/problems/budget-exceeded",
                    "title": "Budget or rate limit exceeded",
                    "status": 429,
                    "detail": "daily budget of 500 distinct people reached (0 left today)",
                    "retry_after": 3600,
                }
            ]
        }
    )

    type: str = Field(description="A URI naming the kind of problem; switch on it.")
    title: str
    status: int
    detail: str = Field(description="What happened, in words safe to show.")
    instance: str | None = Field(None, description="The request path.")
    retry_after: int | None = Field(
        None, description="On 429: seconds to wait (also `Retry-After`)."
    )
