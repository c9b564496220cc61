"""Hostile requests get a clean 4xx problem, never a 5xx; schemathesis finds no server error."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.gateway.conftest import World
from vigie.fingerprint.pseudonyms import Pseudonymiser
from vigie.gateway.problems import PROBLEM_JSON

SUBJECTS = "/api/v1/subjects"

# Every check but "schema-valid data is accepted": a random cursor string is valid by the
# schema and rightly refused (only cursors this instance issued are accepted).
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

HOSTILE_PATHS = [
    "' OR '1'='1",
    "1; DROP TABLE subjects; --",
    "%27%20OR%201=1--",
    "..%2F..%2Fetc%2Fpasswd",
    "\u0430" * 26,  # Cyrillic look-alikes, right length
    "A" * 26,
    "a" * 10_000,
    "%00" * 26,
    "\u202e" + "b" * 25,  # right-to-left override
    "ｋ3v7q2m4x9d1c8b5n6h0j2p4ra",  # fullwidth first letter
    "k3v7q2m4x9d1c8b5n6h0j2p4ra\u0301",  # combining accent
    "null",
    "-1",
    "1e309",
]


def _setup(world: World) -> tuple[str, str]:
    ids = world.people(3)
    world.assign(world.processor("lingua", write_fields=["attendance_hours"]), ids)
    token = world.key("lingua")
    return token, Pseudonymiser(world.secrets, world.processor_id("lingua")).encode(ids[0])


@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_hostile_identifiers_are_a_plain_404(world: World, path: str) -> None:
    token, _ = _setup(world)
    api = world.api()
    for url in (f"{SUBJECTS}/{path}", f"{SUBJECTS}/{path}/events"):
        method = "POST" if url.endswith("/events") else "GET"
        r = api.request(method, url, token=token, json={"attendance_hours": 1})
        assert 400 <= r.status_code < 500, (path, r.status_code)
        assert r.headers["content-type"] == PROBLEM_JSON


HOSTILE_QUERIES = [
    {"limit": "100000000000000000000000"},
    {"limit": "1 OR 1=1"},
    {"limit": "１０"},  # fullwidth digits
    {"cursor": "x" * 5000},
    {"cursor": "' UNION SELECT * FROM api_keys --"},
    {"cursor": "\x00\x01"},
    {"cursor": "AQ" * 37 + "A"},
]


@pytest.mark.parametrize("params", HOSTILE_QUERIES)
def test_hostile_queries_are_a_clean_4xx(world: World, params: dict[str, str]) -> None:
    token, _ = _setup(world)
    r = world.api().get(SUBJECTS, token=token, params=params)
    assert 400 <= r.status_code < 500 and r.headers["content-type"] == PROBLEM_JSON


BODIES = [
    (b'{"attendance_hours": 1}', "text/plain", 415),
    (b'{"attendance_hours": 1}', "application/x-www-form-urlencoded", 415),
    (b'{"attendance_hours": 1}', "", 415),
    (b"\xff\xfe{", "application/json", 400),
    (b'{"attendance_hours": 1e999}', "application/json", 400),
    (b'{"attendance_hours": 99999999999999999999999}', "application/json", 400),
    (b'{"attendance_hours": 1, "attendance_hours": 2}', "application/json", 201),
    (b"[" * 5000 + b"]" * 5000, "application/json", 400),
    (b'{"' + b"k" * 20_000 + b'": 1}', "application/json", 413),
    (b"null", "application/json", 400),
]


@pytest.mark.parametrize(("body", "media", "status"), BODIES)
def test_hostile_bodies(world: World, body: bytes, media: str, status: int) -> None:
    token, pseudonym = _setup(world)
    headers = {"content-type": media} if media else {}
    r = world.api().post(
        f"{SUBJECTS}/{pseudonym}/events", token=token, content=body, headers=headers
    )
    assert r.status_code == status, r.text


def test_lying_content_length(world: World) -> None:
    token, pseudonym = _setup(world)
    headers = {"content-type": "application/json", "content-length": "99999999"}
    r = world.api().post(
        f"{SUBJECTS}/{pseudonym}/events", token=token, content=b"{}", headers=headers
    )
    assert 400 <= r.status_code < 500


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_schemathesis_finds_no_server_error(world: World) -> None:
    token, _ = _setup(world)
    app = world.app()
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 8  # the seven processor operations and the canary hook
    for operation in operations:

        @settings(
            max_examples=15,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        @given(case=operation.as_strategy())
        def run(case: schemathesis.Case) -> None:
            for headers in ({"Authorization": f"Bearer {token}"}, {}):
                response = case.call(headers=headers)
                case.validate_response(response, checks=CHECKS)
                assert response.status_code < 500

        run()
