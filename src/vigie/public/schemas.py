"""The JSON shapes of the public service (its own OpenAPI document, ``/openapi.json``)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class VerifyRequest(BaseModel):
    """A notice's verification code, and its incident number when the notice shows one."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=32, examples=["7K3M-Q9PX"])
    incident: int | None = Field(None, ge=1, le=2_147_483_647)


class SentNotice(BaseModel):
    """A genuine notice: its incident, the day it was first sent, the channels."""

    incident: int
    sent_on: date
    channels: list[str]


class VerifyAnswer(BaseModel):
    """Whether a notice bearing this code was sent by the controller. Nothing about the person."""

    genuine: bool
    notices: list[SentNotice]


class SelfCheckRequest(BaseModel):
    """An e-mail address or a phone number, and the language of the person asking."""

    model_config = ConfigDict(extra="forbid")

    contact: str = Field(min_length=1, max_length=254, examples=["someone@example.org"])


class ReportRequestBody(BaseModel):
    """An e-mail address or a phone number, the language the report is wanted in, and how:
    a one-time link sent to the contact on file, or a letter to the postal address on file."""

    model_config = ConfigDict(extra="forbid")

    contact: str = Field(min_length=1, max_length=254, examples=["someone@example.org"])
    lang: str | None = Field(None, min_length=2, max_length=8, examples=["prs"])
    delivery: Literal["link", "letter"] = Field("link", examples=["letter"])


class SelfCheckAccepted(BaseModel):
    """The same answer for every contact: the answer itself goes to the contact, if on file."""

    status: str = Field(examples=["accepted"])
    detail: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str
    title: str
    status: int
    detail: str
