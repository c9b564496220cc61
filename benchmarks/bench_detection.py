"""Detection and containment: stolen-key attacks and 30 days of legitimate work, over HTTP.

Builds a synthetic CIR population (``VIGIE_BENCH_DETECTION_PEOPLE``, default 20,000) with
the shipped providers, scales each contract's declared volume and budgets to that
population (the providers file is sized for 2.1 million people), and serves the real
gateway with the detection pipeline on a loopback port. The gateway's clock is a
:class:`~vigie.detection.pacing.DrivenClock` the simulators move, so 30 simulated days
take minutes while every detector judges by request time.

1. 30 days of every provider's ordinary work (``vigie.detection.legit``): false alarms.
2. One stolen-key attack per strategy, each on a different provider with that history:
   people obtained before containment, beyond the provider's normal day; failed
   look-ups before the prober is stopped; when drip and mimic were detected; people
   outside the provider's scope obtained.

Targets (issue 5): bulk, sweep, multikey contained within 500 people beyond a normal
day; drip and mimic never above the contract budget and detected before the 30-day
budget is spent; probe contained within 200 failed look-ups; 0 people out of scope; no
suspension in 30 days of legitimate traffic.

Across hosts (issue 17): ``VIGIE_BENCH_DETECTION_HOSTS=N`` serves N gateway instances,
each with its own engine (its own connections, as N hosts have), behind one loopback
port that hands the requests to them in turn — one key's traffic is spread over every
instance. ``VIGIE_BENCH_DETECTION_PG=1`` puts the instance on PostgreSQL (schema
``vigie_bench_detection`` of ``BENCH_PG_URL``, rebuilt) instead of SQLite.
"""

from __future__ import annotations

import itertools
import os
import random
import tempfile
import time
from collections import Counter, deque
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select, text

from vigie.detection.attack import AttackConfig, AttackReport, run_attack
from vigie.detection.legit import Routine, run_day
from vigie.detection.loopback import serve
from vigie.detection.models import ActivityWindow, Alert
from vigie.detection.pacing import DrivenClock, DrivenPacer
from vigie.detection.pipeline import DetectionPipeline
from vigie.fingerprint.pseudonyms import Pseudonymiser
from vigie.gateway.app import create_app
from vigie.processors.keys import issue_key
from vigie.processors.models import Assignment, Contract, Processor
from vigie.secrets import ensure_secrets, load_secrets
from vigie.settings import Settings
from vigie.store.engine import make_engine, make_session_factory
from vigie.store.migrate import upgrade
from vigie.synth.load import synthesize

FULL_SCALE = 2_100_000
START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
SESSIONS_PER_DAY = 2
ATTACKS = ("bulk", "sweep", "multikey", "probe", "drip", "mimic")


def _scale_contracts(sessions: object, scale: float) -> None:
    with sessions.begin() as s:  # type: ignore[attr-defined]
        for c in s.scalars(select(Contract)):
            c.expected_per_day = max(1, round((c.expected_per_day or 0) * scale))
            c.budget_per_day = max(3 * c.expected_per_day, round(c.budget_per_day * scale))
            c.budget_per_30_days = max(40 * c.expected_per_day, round(c.budget_per_30_days * scale))


def _scopes(sessions: object) -> dict[int, list[int]]:
    with sessions() as s:  # type: ignore[operator]
        rows = s.execute(select(Assignment.processor_id, Assignment.subject_id).distinct())
        scopes: dict[int, list[int]] = {}
        for pid, sid in rows:
            scopes.setdefault(pid, []).append(sid)
    return scopes


def _alerts(sessions: object, *, since: datetime, until: datetime | None = None) -> list[Alert]:
    with sessions() as s:  # type: ignore[operator]
        stmt = select(Alert).where(Alert.raised_at >= since)
        if until is not None:
            stmt = stmt.where(Alert.raised_at < until)
        return list(s.scalars(stmt.order_by(Alert.id)))


def _round_robin(apps: list[Any]) -> Any:
    """One ASGI app that hands each HTTP request to the next of ``apps`` in turn."""
    turn = itertools.count()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await apps[next(turn) % len(apps)](scope, receive, send)

    return app


def _postgres_url() -> str:
    """A fresh schema on the benchmark's PostgreSQL server."""
    base = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://root@127.0.0.1:5432/test")
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS vigie_bench_detection CASCADE"))
        conn.execute(text("CREATE SCHEMA vigie_bench_detection"))
    admin.dispose()
    return f"{base}?options=-csearch_path%3Dvigie_bench_detection"


def main() -> None:
    people = int(os.environ.get("VIGIE_BENCH_DETECTION_PEOPLE", "20000"))
    legit_days = int(os.environ.get("VIGIE_BENCH_DETECTION_DAYS", "30"))
    hosts = int(os.environ.get("VIGIE_BENCH_DETECTION_HOSTS", "1"))
    scale = people / FULL_SCALE
    tmp = Path(tempfile.mkdtemp(prefix="vigie-bench-detection-"))
    pg = os.environ.get("VIGIE_BENCH_DETECTION_PG") == "1"
    settings = Settings(data_dir=tmp, **({"database_url": _postgres_url()} if pg else {}))
    ensure_secrets(settings.resolved_secrets_dir)
    secrets = load_secrets(settings.resolved_secrets_dir)
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    started = time.perf_counter()
    synthesize(engine, people=people, seed=11)
    _scale_contracts(sessions, scale)
    scopes = _scopes(sessions)
    with sessions.begin() as s:
        processors = {p.id: p.name for p in s.scalars(select(Processor))}
        expected = dict(
            s.execute(
                select(Contract.processor_id, func.sum(Contract.expected_per_day)).group_by(
                    Contract.processor_id
                )
            ).all()
        )
        budget_30 = dict(
            s.execute(
                select(Contract.processor_id, func.sum(Contract.budget_per_30_days)).group_by(
                    Contract.processor_id
                )
            ).all()
        )
        writers = {
            c.processor_id
            for c in s.scalars(select(Contract))
            if "attendance_hours" in (c.write_fields or [])
        }
        tokens = {
            pid: issue_key(s, processor=name, actor="operator:bench", now=START).token
            for pid, name in processors.items()
        }
    print(
        f"population {people} people, {len(processors)} processors, "
        f"built in {time.perf_counter() - started:.1f} s"
    )

    rng = random.Random(5)
    routines = []
    for pid, name in processors.items():
        scope = list(scopes.get(pid, []))
        rng.shuffle(scope)
        names = Pseudonymiser(secrets, pid)
        routine = Routine(
            name=name,
            token=tokens[pid],
            intake=deque(names.encode(sid) for sid in scope),
            cohort_size=max(1, round(int(expected.get(pid) or 1) / SESSIONS_PER_DAY)),
            sessions_per_day=SESSIONS_PER_DAY,
            writes=pid in writers,
        )
        routine.start(START.date(), rng)
        routines.append(routine)

    clock = DrivenClock(START)
    engines = [engine, *(make_engine(settings.resolved_database_url) for _ in range(hosts - 1))]
    app = _round_robin(
        [
            create_app(
                settings,
                observers=[]
                if os.environ.get("VIGIE_BENCH_DETECTION_OFF")
                else [DetectionPipeline(sessions=make_session_factory(e))],
                engine=e,
                secrets=secrets,
                clock=clock,
            )
            for e in engines
        ]
    )
    print(f"{hosts} gateway instance(s), each with its own engine, on {engine.dialect.name}")
    with serve(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        # -- 1. legitimate traffic ------------------------------------------------------
        t0 = time.perf_counter()
        statuses: Counter[int] = Counter()
        refused: Counter[str] = Counter()
        reasons: Counter[str] = Counter()
        requests = 0
        for d in range(legit_days):
            day = run_day(
                client,
                clock=clock,
                routines=routines,
                day=(START + timedelta(days=d)).date(),
                rng=rng,
            )
            requests += day.requests
            statuses.update(day.statuses)
            refused.update(day.refused)
            reasons.update(day.reasons)
        legit_wall = time.perf_counter() - t0
        legit_end = START + timedelta(days=legit_days)
        legit_alerts = _alerts(sessions, since=START, until=legit_end)
        by_severity = Counter(a.severity for a in legit_alerts)
        suspensions = [a for a in legit_alerts if a.containment.startswith("suspend")]
        working_days = sum(
            1 for d in range(legit_days) if (START + timedelta(days=d)).weekday() < 5
        )
        print(
            f"\nlegitimate traffic: {legit_days} days ({working_days} working), "
            f"{len(routines)} providers, {requests} requests in {legit_wall:.0f} s wall "
            f"({requests / max(legit_wall, 1e-9):.0f} req/s), statuses {dict(statuses)}"
        )
        print(
            f"  alerts: {dict(by_severity) or 'none'}; suspensions: {len(suspensions)}; "
            f"low-severity rate: {by_severity.get('low', 0) / (len(routines) * working_days):.4f}"
            f" per provider-working-day; refused requests: {sum(refused.values())}"
        )
        for reason, n in reasons.most_common(5):
            print(f"    refused {n}×: {reason}")
        for a in legit_alerts:
            print(
                f"    [{a.severity}] {processors.get(a.processor_id or 0)}: {a.detector} "
                f"— {a.summary}"
            )

        # -- 2. attacks -------------------------------------------------------------------
        with sessions() as s:
            normal_day = dict(
                s.execute(
                    select(ActivityWindow.processor_id, func.max(ActivityWindow.people))
                    .where(ActivityWindow.span == "day")
                    .group_by(ActivityWindow.processor_id)
                ).all()
            )
        regional = sorted(
            (pid for pid in processors if pid in scopes and len(scopes[pid]) < people),
            key=lambda pid: -len(scopes[pid]),
        )
        victims = dict(zip(ATTACKS, regional, strict=False))
        results: list[tuple[str, str, AttackReport, dict[str, object]]] = []
        at = legit_end + timedelta(days=1, hours=9)
        for strategy in ATTACKS:
            pid = victims[strategy]
            keys = [tokens[pid]]
            if strategy == "multikey":
                with sessions.begin() as s:
                    keys += [
                        issue_key(
                            s, processor=processors[pid], actor="operator:bench", now=at
                        ).token
                        for _ in range(2)
                    ]
            clock.set(at)
            start_at = clock()
            w0 = time.perf_counter()
            report = run_attack(
                url=url,
                tokens=keys,
                config=AttackConfig(strategy=strategy),
                pacer=DrivenPacer(clock),
            )
            wall = time.perf_counter() - w0
            names = Pseudonymiser(secrets, pid)
            in_scope = set(scopes[pid])
            outside = sum(1 for p in report.pseudonyms if names.decode(p) not in in_scope)
            alerts = [a for a in _alerts(sessions, since=start_at) if a.processor_id == pid]
            serious = [a for a in alerts if a.severity in ("medium", "high", "critical")]
            extra: dict[str, object] = {
                "wall_s": round(wall, 1),
                "outside": outside,
                "normal_day": int(normal_day.get(pid) or 0),
                "budget_30": int(budget_30.get(pid) or 0),
                "scope": len(in_scope),
                "first_alert": serious[0].raised_at if serious else None,
                "first_alert_detector": f"{serious[0].detector}/{serious[0].evidence.get('rule')}"
                if serious
                else None,
                "start": start_at,
            }
            results.append((strategy, processors[pid], report, extra))
            at = max(clock(), at) + timedelta(days=1)
            at = at.replace(hour=9, minute=0, second=0, microsecond=0)

    print("\nattacks with a stolen key (simulated time):")
    header = (
        f"{'strategy':9} {'provider':12} {'scope':>6} {'normal':>6} {'people':>6} "
        f"{'beyond':>6} {'failed':>6} {'stopped':>7} {'after':>10} {'detected':>10} "
        f"{'outside':>7} {'wall s':>6}"
    )
    print(header)
    for strategy, name, report, extra in results:
        start = extra["start"]
        assert isinstance(start, datetime)
        after = (report.stopped_at - start) if report.stopped_at else None
        first = extra["first_alert"]
        detected = (first - start) if isinstance(first, datetime) else None
        beyond = report.people - int(extra["normal_day"])  # type: ignore[call-overload]
        print(
            f"{strategy:9} {name:12} {extra['scope']:>6} {extra['normal_day']:>6} "
            f"{report.people:>6} {beyond:>6} {report.failed_lookups:>6} "
            f"{'yes' if report.stopped else 'no':>7} {_span(after):>10} {_span(detected):>10} "
            f"{extra['outside']:>7} {extra['wall_s']:>6}"
        )
    print("\nagainst the targets:")
    for strategy, _name, report, extra in results:
        beyond = report.people - int(extra["normal_day"])  # type: ignore[call-overload]
        if strategy in ("bulk", "sweep", "multikey"):
            verdict = report.stopped and beyond <= 500
            print(
                f"  {strategy}: {beyond} people beyond a normal day (target <= 500; "
                f"ratio {beyond / 500:.2f}) — {'met' if verdict else 'MISSED'}"
            )
        elif strategy == "probe":
            verdict = report.stopped and report.failed_lookups <= 200
            print(
                f"  probe: contained after {report.failed_lookups} failed look-ups "
                f"(target <= 200; ratio {report.failed_lookups / 200:.2f}) — "
                f"{'met' if verdict else 'MISSED'}"
            )
        else:
            first = extra["first_alert"]
            budget = int(extra["budget_30"])  # type: ignore[call-overload]
            detected = isinstance(first, datetime)
            print(
                f"  {strategy}: {report.people} people of a 30-day budget of {budget} "
                f"({report.people / max(budget, 1):.1%}); detected "
                f"{'after ' + _span(first - extra['start']) if detected else 'NEVER'}"  # type: ignore[operator]
                f" by {extra['first_alert_detector']}; stopped: "
                f"{'yes' if report.stopped else 'no'} — "
                f"{'met' if detected and report.people <= budget else 'MISSED'}"
            )
    outside_total = sum(int(e["outside"]) for *_, e in results)  # type: ignore[call-overload]
    print(f"  people outside the provider's scope obtained: {outside_total} (target 0)")
    print(
        f"  suspensions in {legit_days} days of legitimate traffic: {len(suspensions)} (target 0)"
    )


def _span(delta: timedelta | None) -> str:
    if delta is None:
        return "—"
    seconds = delta.total_seconds()
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


if __name__ == "__main__":
    main()
