"""Pages: the CSP, no inline script or style, and hostile values rendered inert."""

from __future__ import annotations

import re

import pytest

from tests.console.conftest import Desk
from vigie.console.render import TEMPLATES
from vigie.processors.models import Processor

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
HOSTILE_NAME = "<script>alert(1)</script>"
HOSTILE_CONTACT = '"onerror=alert(1) x="@evil.example'
RTL = "Formation \u202egpj.exe"


def _hostile(desk: Desk) -> None:
    desk.world.processor("formalang")
    with desk.world.sessions.begin() as s:
        p = s.query(Processor).filter_by(name="formalang").one()
        p.legal_name = HOSTILE_NAME
        p.contact_email = HOSTILE_CONTACT
        p.security_officer = RTL


@pytest.mark.parametrize(
    "path",
    [
        "/login",
        "/",
        "/processors",
        "/processors/formalang",
        "/audit",
        "/nowhere",
        "/static/console.css",
    ],
)
def test_every_response_carries_the_console_csp(desk: Desk, path: str) -> None:
    desk.world.processor("formalang")
    desk.operator("alice", "dpo")
    client = desk.sign_in("alice")
    r = client.get(path)
    assert r.headers["content-security-policy"] == CSP
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"


def test_templates_hold_no_inline_script_style_or_handler() -> None:
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template
        assert "<style" not in text and " style=" not in text, template
        assert not re.search(r"\son[a-z]+\s*=", text), template
        assert "|safe" not in text, template


@pytest.mark.parametrize("path", ["/", "/processors", "/processors/formalang"])
def test_hostile_values_render_inert(desk: Desk, path: str) -> None:
    _hostile(desk)
    desk.operator("alice", "dpo")
    html = desk.sign_in("alice").get(path).text
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "\u202e" not in html
    if path.endswith("formalang"):
        assert '"onerror=' not in html and "&#34;onerror=alert(1) x=&#34;" in html
        assert "Formation [U+202E]gpj.exe" in html


def test_french_and_english_per_operator(desk: Desk) -> None:
    desk.world.processor("formalang")
    desk.operator("alice", "dpo", language="fr")
    desk.operator("bob", "dpo", language="en")
    fr = desk.sign_in("alice").get("/").text
    en = desk.sign_in("bob").get("/").text
    assert '<html lang="fr">' in fr and "Vue d’ensemble" in fr and "Sous-traitants" in fr
    assert '<html lang="en">' in en and "Overview" in en and "Processors" in en
