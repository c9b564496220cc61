"""Hostile requests to the public JSON endpoints: clean 4xx answers, never a 5xx."""

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

from tests.public.conftest import Public

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_schemathesis_finds_no_server_error(public: Public) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", public.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 3
    for operation in operations:

        @settings(
            max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        @given(case=operation.as_strategy())
        def run(case: schemathesis.Case) -> None:
            response = case.call()
            case.validate_response(response, checks=CHECKS)
            assert response.status_code < 500

        run()
    public.drain()


@pytest.mark.parametrize(
    "path",
    [
        "/json/verify",
        "/json/self-check",
        "/json/disclosure-report",
        "/verify",
        "/self-check",
        "/my-file",
        "/report/abc",
    ],
)
def test_malformed_bodies_get_a_clean_4xx(public: Public, path: str) -> None:
    with public.client() as c:
        cases = [
            c.post(path, content=b"\xff\xfe{", headers={"content-type": "application/json"}),
            c.post(path, content=b"[1, 2]", headers={"content-type": "application/json"}),
            c.post(path, content=b"a" * 5000, headers={"content-type": "text/plain"}),
            c.post(
                path,
                content=b"x=" + b"%" * 300,
                headers={"content-type": "application/x-www-form-urlencoded"},
            ),
            c.post(
                path,
                headers={"content-type": "application/json", "content-length": "99999999"},
                content=b"{}",
            ),
        ]
    for r in cases:
        assert 200 <= r.status_code < 500, (r.status_code, r.text[:200])
    assert cases[2].status_code == 413 and cases[4].status_code == 413


@pytest.mark.parametrize(
    ("path", "field"), [("/verify", "code"), ("/self-check", "contact"), ("/my-file", "contact")]
)
def test_an_oversized_form_field_gets_the_form_again(public: Public, path: str, field: str) -> None:
    with public.client() as c:
        r = c.post(path, data={field: "7" * 400, "lang": "en"})
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("text/html")
    assert f'href="#{field}"' in r.text
