"""The console's incident page on a large incident: the whole page and the parts htmx
refreshes (``?part=campaign`` every 5 s while notices go out, ``?part=clock`` every minute).

An SQLite instance with ``BENCH_INCIDENT_PEOPLE`` (default 100,000) synthetic people, all
exposed in one incident, each with an e-mail delivery in the log (90 % sent, 5 % bounced,
5 % without contact) and a notice language from a mix; an authority pack phase and a
queued campaign job. A signed-in DPO session (opened in the store, as the sign-in pages
would) fetches each URL ``BENCH_INCIDENT_REQUESTS`` times (default 20) in process
(httpx's ASGI transport): median and p95 in milliseconds.

Usage: ``python -m benchmarks incident_page``.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import anyio
import httpx
from sqlalchemy import insert

from vigie.breach.assessment import assess_incident
from vigie.breach.incidents import open_incident, record_exposure
from vigie.breach.models import NoticeDelivery
from vigie.console.app import create_app
from vigie.console.operators import add_operator
from vigie.console.sessions import COOKIE, FULL_STAGE, CookieSigner, open_session
from vigie.jobs.notices import submit_notice_campaign
from vigie.registry.models import Subject
from vigie.registry.population import declare_population, load_population
from vigie.secrets import ensure_secrets, load_secrets
from vigie.settings import Settings
from vigie.store.engine import make_engine, make_session_factory
from vigie.store.migrate import upgrade
from vigie.synth.load import POPULATION

PEOPLE = int(os.environ.get("BENCH_INCIDENT_PEOPLE", "100000"))
REQUESTS = int(os.environ.get("BENCH_INCIDENT_REQUESTS", "20"))
NOW = datetime(2026, 1, 13, 9, 30, tzinfo=UTC)
LANGS = ("fr", "en", "ar", "prs", "uk", "fr+en")
FIELDS = ["given_name", "family_name", "email", "nationality", "residence_status"]


def _subjects(n: int) -> list[dict[str, object]]:
    return [
        {
            "id": i, "ref": f"CIR-2025-{i:07d}", "given_name": "Awa",
            "family_name": f"Example{i}", "birth_date": date(1990, 1, 1), "sex": "F",
            "birth_country": "AFG", "nationality": "AFG", "preferred_language": "fr",
            "email": f"person{i}@mail.example", "phone": None, "address_line": "1 rue",
            "postal_code": "75011", "city": "Paris", "region": "11",
            "entry_date": date(2024, 3, 1), "residence_reason": "asylum",
            "residence_status": "refugee", "cir_signed_on": date(2024, 6, 1),
            "course_hours": 200, "course_level": "A1", "valid_from": NOW,
        }
        for i in range(1, n + 1)
    ]  # fmt: skip


def _instance(root: Path) -> tuple[Settings, str, int]:
    settings = Settings(data_dir=root / "data")
    settings.data_dir.mkdir(parents=True)
    ensure_secrets(settings.resolved_secrets_dir)
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    rng = random.Random(2026)
    with sessions.begin() as s:
        s.execute(insert(Subject), _subjects(PEOPLE))
        declare_population(s, context=load_population(POPULATION), actor="operator:bench")
        incident = open_incident(
            s, title="Extract on sale", source="leak", aware_at=NOW - timedelta(hours=20),
            actor="operator:bench",
        )  # fmt: skip
        record_exposure(
            s, incident_id=incident.id, actor="operator:bench",
            exposures={i: FIELDS for i in range(1, PEOPLE + 1)},
        )  # fmt: skip
        assess_incident(s, incident_id=incident.id, actor="operator:bench", malicious=True,
                        recipients="unknown")  # fmt: skip
        statuses = rng.choices(("sent", "bounced", "no_contact"), weights=(90, 5, 5), k=PEOPLE)
        s.execute(
            insert(NoticeDelivery),
            [
                {"incident_id": incident.id, "subject_id": i, "channel": "email",
                 "status": statuses[i - 1], "language": rng.choice(LANGS), "attempts": 1,
                 "attempt_at": NOW}
                for i in range(1, PEOPLE + 1)
            ],
        )  # fmt: skip
        submit_notice_campaign(s, incident_id=incident.id, channel="email", actor="operator:dora")
        operator = add_operator(
            s, login="dora", role="dpo", password="bench password long", actor="operator:bench"
        )
        operator.totp_enrolled_at = NOW
        token, _ = open_session(s, operator=operator, stage=FULL_STAGE, now=NOW)
        incident_id = incident.id
    engine.dispose()
    return settings, token, incident_id


def _timings(app: object, cookie: str, url: str) -> list[float]:
    async def go() -> list[float]:
        out = []
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(
            transport=transport, base_url="http://console.test", cookies={COOKIE: cookie}
        ) as client:
            for _ in range(REQUESTS + 1):
                start = time.perf_counter()
                r = await client.get(url)
                elapsed = time.perf_counter() - start
                assert r.status_code == 200, (url, r.status_code, r.text[:300])
                out.append(elapsed * 1000)
        return out[1:]  # the first warms the caches

    return anyio.run(go)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        settings, token, incident_id = _instance(Path(tmp))
        print(
            f"instance: {PEOPLE:,} people exposed, built in {time.perf_counter() - started:.0f} s"
        )
        secrets = load_secrets(settings.resolved_secrets_dir)
        app = create_app(settings, secrets=secrets, clock=lambda: NOW)
        cookie = CookieSigner(secrets).sign(token)
        for label, url in (
            ("whole page", f"/incidents/{incident_id}"),
            ("?part=campaign", f"/incidents/{incident_id}?part=campaign"),
            ("?part=clock", f"/incidents/{incident_id}?part=clock"),
            ("incident list", "/incidents"),
        ):
            xs = sorted(_timings(app, cookie, url))
            p95 = xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))]
            print(
                f"{label:>16}: median {statistics.median(xs):8.1f} ms, p95 {p95:8.1f} ms "
                f"({len(xs)} requests)"
            )
