"""The incident's public page: on the public service only while the DPO publishes it."""

from __future__ import annotations

from typer.testing import CliRunner, Result

from tests.public.conftest import PEOPLE, Public
from vigie.breach import i18n, incidents
from vigie.cli.app import app
from vigie.cli.context import Instance
from vigie.public import incident_pages


def _publish(public: Public) -> None:
    with public.sessions.begin() as s:
        incident_pages.publish(s, incident_id=public.incident_id, actor="operator:test")


def test_an_unpublished_incident_has_no_page(public: Public) -> None:
    with public.client() as c:
        assert c.get(f"/incidents/{public.incident_id}").status_code == 404
        assert f"/incidents/{public.incident_id}" not in c.get("/").text


def test_a_published_incident_page_says_what_happened_and_nothing_about_anyone(
    public: Public,
) -> None:
    _publish(public)
    with public.client() as c:
        home = c.get("/?lang=en").text
        page = c.get(f"/incidents/{public.incident_id}?lang=en")
    assert f'href="/incidents/{public.incident_id}"' in home
    assert page.status_code == 200
    text = page.text
    assert "Public notice: personal data breach" in text
    assert "Your nationality" in text or "nationality" in text.lower()
    assert 'href="/verify"' in text and 'href="/self-check"' in text
    assert "Questions and answers" in text
    for _lang, given, family, email, _phone in PEOPLE:
        assert given not in text and family not in text
        assert email is None or email not in text
    assert "CIR-2025-" not in text


def test_the_page_speaks_every_language_right_to_left_where_it_should(public: Public) -> None:
    _publish(public)
    with public.client() as c:
        for lang in i18n.LANGUAGES:
            r = c.get(f"/incidents/{public.incident_id}?lang={lang}")
            assert r.status_code == 200
            assert f'dir="{i18n.direction(lang)}"' in r.text.split(">", 2)[1]
            assert f'<bdi dir="ltr">{public.incident_id}</bdi>' in r.text
            assert len(r.content) < 100_000


def test_publish_and_withdraw_are_decisions_on_the_timeline(public: Public) -> None:
    runner = CliRunner()

    def cli(*args: str) -> Result:
        obj = Instance(settings=public.settings, _engine=public.engine)  # the test's engine
        return runner.invoke(app, ["incident", "publish", *args], obj=obj)

    published = cli(str(public.incident_id))
    assert published.exit_code == 0, published.output
    with public.client() as c:
        assert c.get(f"/incidents/{public.incident_id}").status_code == 200
    withdrawn = cli(str(public.incident_id), "--withdraw")
    assert withdrawn.exit_code == 0, withdrawn.output
    with public.client() as c:
        assert c.get(f"/incidents/{public.incident_id}").status_code == 404
    with public.sessions() as s:
        kinds = [e.kind for e in incidents.timeline(s, incident_id=public.incident_id)]
    assert kinds[-2:] == ["public_page", "public_page_withdrawn"]
