"""The hot routes served before FastAPI (``vigie.gateway.lean``) answer as FastAPI does.

Each request is sent twice to the same world: through the app as built (the lean layer
answers the two hot routes itself) and through the same app with the layer taken out
(FastAPI's own routes answer). The answers must match — status, body, the headers a
client reads — and a counting layer under the lean one shows which requests it answered
itself and which it left to FastAPI.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.security import HTTPBearer
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.gateway.conftest import Api, World
from vigie.fingerprint.pseudonyms import Pseudonymiser
from vigie.gateway.cursor import MAX_CURSOR_LENGTH
from vigie.gateway.lean import bearer_token, page_query
from vigie.ops.logs import REQUEST_ID

SUBJECTS = "/api/v1/subjects"
COMPARED = ("content-type", "cache-control", "www-authenticate", "retry-after",
            "x-budget-remaining-today", "x-budget-remaining-30-days", "location",
            "x-content-type-options", "content-security-policy")  # fmt: skip


class _Counting:
    """Counts the requests that reach FastAPI's stack."""

    def __init__(self, app: ASGIApp, seen: list[str]) -> None:
        self.app = app
        self.seen = seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.seen.append(scope["path"])
        await self.app(scope, receive, send)


def _counted(app: FastAPI, seen: list[str], *, lean: bool) -> FastAPI:
    front = app.front  # type: ignore[attr-defined]
    assert front is not None
    if lean:
        app.front = lambda inner: front(_Counting(inner, seen))  # type: ignore[attr-defined]
    else:
        app.front = lambda inner: _Counting(inner, seen)  # type: ignore[attr-defined]
    app.middleware_stack = None  # rebuilt on the next request
    return app


@pytest.fixture
def pair(world: World) -> tuple[Api, Api, list[str], list[str], str, Pseudonymiser, list[int]]:
    ids = world.people(8)
    cid = world.processor("lingua", masks={"birth_date": "year"})
    world.assign(cid, ids[:6])
    token = world.key("lingua")
    lean_seen: list[str] = []
    plain_seen: list[str] = []
    lean = Api(_counted(world.app(), lean_seen, lean=True))
    plain = Api(_counted(world.app(), plain_seen, lean=False))
    pseudo = Pseudonymiser(world.secrets, world.processor_id("lingua"))
    return lean, plain, lean_seen, plain_seen, token, pseudo, ids


def _same(a: Any, b: Any) -> None:
    assert a.status_code == b.status_code, (a.text, b.text)
    assert a.content == b.content
    for name in COMPARED:
        assert a.headers.get(name) == b.headers.get(name), name


def test_the_hot_routes_answer_as_fastapi_does(pair: Any) -> None:
    lean, plain, lean_seen, plain_seen, token, pseudo, ids = pair
    inside, outside = pseudo.encode(ids[0]), pseudo.encode(ids[7])
    hot = [
        (f"{SUBJECTS}/{inside}", {"token": token}),
        (f"{SUBJECTS}/{outside}", {"token": token}),  # out of scope: 404
        (f"{SUBJECTS}/not-a-pseudonym", {"token": token}),  # 400
        (f"{SUBJECTS}/{inside}", {}),  # no key: 401
        (f"{SUBJECTS}/{inside}", {"token": "vgk_nothing_here"}),  # unknown key: 401
        (f"{SUBJECTS}/{inside}", {"headers": {"Authorization": f"bearer  {token} "}}),
        (f"{SUBJECTS}/{inside}", {"headers": {"Authorization": f"Basic {token}"}}),
        (f"{SUBJECTS}/{inside}", {"headers": {"Authorization": "Bearer "}}),
        (f"{SUBJECTS}", {"token": token}),
        (f"{SUBJECTS}?limit=2", {"token": token}),
        (f"{SUBJECTS}?limit=2&other=1", {"token": token}),
        (f"{SUBJECTS}?limit=2&cursor=", {"token": token}),
        (f"{SUBJECTS}?limit=3&cursor=forged", {"token": token}),  # 400
        (f"{SUBJECTS}?limit=2", {}),  # 401
    ]
    for url, kwargs in hot:
        _same(lean.get(url, **kwargs), plain.get(url, **kwargs))
    assert lean_seen == []  # every one answered by the lean layer
    assert len(plain_seen) == len(hot)


def test_a_page_and_its_cursor_walk_the_same_people(pair: Any) -> None:
    lean, plain, _, _, token, _, _ = pair
    a = lean.get(f"{SUBJECTS}?limit=4", token=token).json()
    b = plain.get(f"{SUBJECTS}?limit=4", token=token).json()
    assert a == b and a["next_cursor"]
    cursor = a["next_cursor"]
    a2 = lean.get(f"{SUBJECTS}?limit=4&cursor={cursor}", token=token)
    b2 = plain.get(f"{SUBJECTS}?limit=4&cursor={cursor}", token=token)
    _same(a2, b2)
    assert len(a2.json()["data"]) == 2


def test_anything_unusual_is_left_to_fastapi(pair: Any) -> None:
    lean, plain, lean_seen, plain_seen, token, pseudo, ids = pair
    inside = pseudo.encode(ids[0])
    odd = [
        ("GET", f"{SUBJECTS}?limit=0"),  # 422 in FastAPI's words
        ("GET", f"{SUBJECTS}?limit=abc"),
        ("GET", f"{SUBJECTS}?limit=05"),
        ("GET", f"{SUBJECTS}?limit=%2B5"),
        ("GET", f"{SUBJECTS}?limit=100000"),
        ("GET", f"{SUBJECTS}?limit=2&limit=3"),
        ("GET", f"{SUBJECTS}?cursor=a&cursor=b"),
        ("GET", f"{SUBJECTS}?cursor=" + "a" * (MAX_CURSOR_LENGTH + 1)),
        ("GET", f"{SUBJECTS}/"),  # FastAPI redirects
        ("GET", f"{SUBJECTS}/{inside}/events"),  # 405
        ("HEAD", f"{SUBJECTS}/{inside}"),
        ("POST", f"{SUBJECTS}/{inside}"),
    ]
    for method, url in odd:
        _same(lean.request(method, url, token=token), plain.request(method, url, token=token))
    # every one went on to FastAPI (a target too long for the listener reaches neither)
    assert lean_seen == plain_seen and len(lean_seen) >= len(odd) - 1


def test_the_lean_routes_keep_the_listener_and_its_metrics_labels(world: World) -> None:
    ids = world.people(2)
    world.assign(world.processor("lingua"), ids)
    token = world.key("lingua")
    api = world.api(client_ip="127.0.0.1")  # /metrics answers loopback only
    p = Pseudonymiser(world.secrets, world.processor_id("lingua")).encode(ids[0])
    r = api.get(f"{SUBJECTS}/{p}", token=token, headers={"X-Request-ID": "ab" * 16})
    assert r.status_code == 200
    assert r.headers["x-request-id"] == "ab" * 16
    assert r.headers["x-frame-options"] == "DENY"
    metrics = api.get("/metrics").text
    assert 'route="/api/v1/subjects/{pseudonym}"' in metrics


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer ", "Bearer  x ", "bearer x", "BEARER x y", "Basic x",
     "Bearerx", " Bearer x", "Bearer\tx", "Bearer é"],
)  # fmt: skip
def test_the_token_is_read_as_fastapis_bearer_scheme_reads_it(header: str | None) -> None:
    headers = [] if header is None else [(b"authorization", header.encode("latin-1"))]
    scope = {"type": "http", "headers": headers}

    async def expected() -> str | None:
        found = await HTTPBearer(auto_error=False)(Request(scope))
        return None if found is None else found.credentials

    import anyio

    assert bearer_token(scope) == anyio.run(expected)


def test_page_query_takes_only_what_needs_no_coercion() -> None:
    assert page_query(b"", max_page=100) == (50, None)
    assert page_query(b"", max_page=20) == (20, None)
    assert page_query(b"limit=7&cursor=abc", max_page=100) == (7, "abc")
    assert page_query(b"cursor=a%2Bb&x=1", max_page=100) == (50, "a+b")
    odd = (b"limit=0", b"limit=05", b"limit=101", b"limit=-1", b"limit=1.0", b"limit=",
           b"limit=%201", b"limit=\xd9\xa3", b"limit=1&limit=1", b"cursor=&cursor=")  # fmt: skip
    for query in odd:
        assert page_query(query, max_page=100) is None, query


class _SeesRequestId:
    """An observer noting the request id its thread sees (logs written there carry it)."""

    def __init__(self) -> None:
        self.seen: list[str | None] = []

    def admit(self, session: Any, *, processor_id: int, key_id: int, at: Any) -> None:
        self.seen.append(REQUEST_ID.get())

    def observe(self, session: Any, access: Any) -> None:
        self.seen.append(REQUEST_ID.get())


def test_a_request_run_alone_keeps_its_request_id_in_its_thread(world: World) -> None:
    if world.engine.dialect.name == "sqlite":
        pytest.skip("SQLite runs requests in groups, on one writer thread")
    ids = world.people(1)
    world.assign(world.processor("lingua"), ids)
    token = world.key("lingua")
    observer = _SeesRequestId()
    api = world.api(observers=[observer])
    p = Pseudonymiser(world.secrets, world.processor_id("lingua")).encode(ids[0])
    r = api.get(f"{SUBJECTS}/{p}", token=token, headers={"X-Request-ID": "cd" * 16})
    assert r.status_code == 200
    assert observer.seen == ["cd" * 16, "cd" * 16]
