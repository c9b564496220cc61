"""The OFII case, replayed in seven steps on a fresh embedded instance.

1. A synthetic CIR population with its regional training providers and the platform
   provider; contracts applied from the shipped YAML (volumes scaled to the population);
   keys issued; a baseline of requirements that half of the providers meet.
2. The gateway on loopback and several days of the providers' ordinary work, in
   compressed time (the gateway's clock is driven by the simulator).
3. One provider's key stolen: the attack simulator tries a bulk extraction through the
   real API; detection contains it.
4. What the attacker got is "posted": leak triage names the provider, counts the people
   and fields, dates the theft.
5. The incident with its 72-hour clock, the authority pack, a notice to every affected
   person in their language (e-mail to a local SMTP sink, letters as PDF), and a canary
   trip raised.
6. A campaign raises the requirements for every provider (e-mails in French to the
   SMTP sink); the dossier of the provider at the origin, verified offline; the
   compliance report.
7. The audit trail exported with a signed checkpoint, then verified against it.

Every step checks what it claims (:func:`~vigie.demo.steps.claim`); ``vigie demo`` exits
non-zero at the first claim that does not hold.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import func, select

from vigie.audit.anchors import Bound, parse_held
from vigie.audit.checkpoints import Checkpointer
from vigie.audit.export import export_trail
from vigie.audit.index import received_by
from vigie.audit.verify import verify_trail
from vigie.breach.assessment import assess_incident, overrule_incident
from vigie.breach.authority import prepare_pack, write_pack
from vigie.breach.from_leak import open_from_leak
from vigie.console.auth import PasswordCost
from vigie.demo.haul import RecordingTransport, write_dump
from vigie.demo.mailsink import MailSink
from vigie.demo.operator import CONSOLE_URL, DemoOperator, demo_operator
from vigie.demo.requirements import after_the_leak, apply_baseline, diligent
from vigie.demo.steps import StepRunner, claim
from vigie.demo.world import ACTOR, REAL_CASE, World
from vigie.detection.attack import AttackConfig, run_attack
from vigie.detection.legit import Routine, run_day
from vigie.detection.loopback import serve
from vigie.detection.models import ActivityWindow, Alert
from vigie.detection.pacing import DrivenClock, DrivenPacer
from vigie.detection.pipeline import DetectionPipeline
from vigie.fingerprint.canaries import canary_ids
from vigie.fingerprint.models import CanaryContact
from vigie.fingerprint.pseudonyms import Pseudonymiser
from vigie.fingerprint.trips import trip
from vigie.gateway.app import create_app
from vigie.gateway.observe import AccessObserver
from vigie.gateway.wiring import (
    CheckpointTimer,
    default_after_commit,
    default_checkpointer,
    run_during,
)
from vigie.leaks.analyze import analyze
from vigie.processors.models import Contract, Processor
from vigie.registry.models import Subject
from vigie.store.base import utcnow

SESSIONS_PER_DAY = 2
CONTAINMENT_MARGIN = 500  # issue 5: contained within 500 people beyond a normal day


@dataclass
class DemoOptions:
    """What to replay, and where the outputs go."""

    out: Path
    people: int = 20_000
    seed: int = 2026
    days: int = 5
    containment: bool = True  # off (no detection, no budgets): the demo must then fail


@dataclass
class DemoOutcome:
    """The figures of a run (all measured), for the summary and the tests."""

    people: int = 0
    victim: str = ""
    victim_scope: int = 0
    normal_day: int = 0
    stolen: int = 0
    stolen_outside_scope: int = 0
    attack_stop: str | None = None
    legit_requests: int = 0
    legit_suspensions: int = 0
    leak_attribution: list[dict[str, Any]] = field(default_factory=list)
    affected: int = 0
    incident_id: int | None = None
    notices: dict[str, int] = field(default_factory=dict)
    audit_events: int = 0
    outputs: dict[str, Path] = field(default_factory=dict)
    console_operator: DemoOperator | None = None


ATTACK_HOUR = 2  # the thief works at night


def _start_of_simulation(days: int) -> datetime:
    """Midnight ``days`` days before the attack, which falls a few hours before now.

    So the incident opened by the attack starts its 72-hour clock at about the real time
    the demo runs, as it would in production.
    """
    now = utcnow()
    attack_day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if now - attack_day < timedelta(hours=ATTACK_HOUR + 1):
        attack_day -= timedelta(days=1)
    return attack_day - timedelta(days=days)


class Demo:
    """One run of the story; each ``step_*`` method is one step."""

    def __init__(self, options: DemoOptions, console: Console) -> None:
        self.options = options
        self.console = console
        self.outcome = DemoOutcome()
        self.world: World | None = None
        self.start = _start_of_simulation(options.days)
        self.clock = DrivenClock(self.start)
        self.records: list[dict[str, Any]] = []
        self.leak_report: dict[str, Any] = {}

    @contextmanager
    def _bar(self, what: str) -> Iterator[Callable[[int, int], None]]:
        """A transient progress bar; yields ``advance(done, total)``."""
        columns = (TextColumn(f"  {what}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=self.console, transient=True) as bar:
            task = bar.add_task(what, total=None)

            def advance(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            yield advance

    @property
    def w(self) -> World:
        assert self.world is not None
        return self.world

    def run(self) -> DemoOutcome:
        runner = StepRunner(self.console)
        runner.run("A synthetic CIR population and its subcontractors", self.step_population)
        observers: list[AccessObserver] = []
        if self.options.containment:
            observers.append(DetectionPipeline(sessions=self.w.sessions))
        app = create_app(
            self.w.settings, observers=observers, engine=self.w.engine,
            secrets=self.w.secrets, clock=self.clock,
            # Checkpoints signed as `vigie serve` signs them, while it works...
            after_commit=default_after_commit(
                self.w.settings, self.w.engine, secrets=self.w.secrets
            ),
        )  # fmt: skip
        # ... on its timer, and over what is left when it stops: leak triage, the canary
        # trip and the authority pack refuse an unanchored trail.
        timer = CheckpointTimer(
            default_checkpointer(self.w.settings, self.w.engine, secrets=self.w.secrets)
        )
        app = run_during(app, timer)
        with serve(app) as url:
            runner.run(
                "The gateway, and the providers' ordinary days", lambda: self.step_legit(url)
            )
            runner.run("A provider's key is stolen: bulk extraction", lambda: self.step_attack(url))
        runner.run("The stolen file is posted: leak triage", self.step_leak)
        runner.run("Incident, 72-hour clock, authority pack, notices", self.step_incident)
        runner.run(
            "Requirements: a campaign for every provider, the dossier of the one at the origin",
            self.step_requirements,
        )
        runner.run("The console, for the people who run the response", self.step_console)
        runner.run("The audit trail exported, then verified against it", self.step_audit)
        self.console.print(
            f"\n[bold green]Demo complete[/] in {runner.total_seconds:.0f} s: every step did "
            "what it claims."
        )
        return self.outcome

    # -- 1 ------------------------------------------------------------------------------
    def step_population(self) -> list[str]:
        self.world = World.fresh(self.options.out)
        with self._bar("people") as advance:
            report = self.w.populate(
                people=self.options.people, seed=self.options.seed,
                budgets=self.options.containment, progress=advance,
            )  # fmt: skip
        self.w.issue_keys(now=self.start, diligent=diligent(self.w))
        baseline = apply_baseline(self.w, now=self.start)
        self.outcome.people = report.people
        claim(report.people == self.options.people, "the population was not built")
        claim(len(self.w.tokens) == report.processors, "not every provider got a key")
        with self.w.sessions() as session:
            top = session.execute(
                select(Subject.nationality, func.count())
                .where(Subject.is_canary.is_(False))
                .group_by(Subject.nationality)
                .order_by(func.count().desc())
                .limit(6)
            ).all()
        mix = ", ".join(f"{n} {c * 100 / report.people:.0f}%" for n, c in top)
        return [
            f"{report.people:,} people (+{report.canaries} canaries), "
            f"{report.versions:,} earlier versions, {report.assignments:,} assignments",
            f"nationalities: {mix}, …",
            f"{report.processors} subcontractors from {self.w.out / 'providers.yaml'} "
            "(the shipped file, volumes scaled to this population); one API key each",
            *baseline,
        ]

    # -- 2 ------------------------------------------------------------------------------
    def step_legit(self, url: str) -> list[str]:
        rng = random.Random(self.options.seed)
        routines = []
        with self.w.sessions() as session:
            per_day = func.coalesce(func.sum(Contract.expected_per_day), 0)
            expected = dict(
                session.execute(
                    select(Contract.processor_id, per_day).group_by(Contract.processor_id)
                ).all()
            )
        for name, pid in self.w.processor_ids.items():
            if name not in self.w.trainers:
                continue  # the platform host does not hold courses
            scope = list(self.w.scopes.get(pid, []))
            rng.shuffle(scope)
            names = Pseudonymiser(self.w.secrets, pid)
            routine = Routine(
                name=name,
                token=self.w.tokens[name],
                intake=deque(names.encode(sid) for sid in scope),
                cohort_size=max(1, round((expected.get(pid) or 1) / SESSIONS_PER_DAY)),
                sessions_per_day=SESSIONS_PER_DAY,
            )
            routine.start(self.start.date(), rng)
            routines.append(routine)
        refused = 0
        with httpx.Client(base_url=url, timeout=60) as client, self._bar("days") as advance:
            for d in range(self.options.days):
                day = (self.start + timedelta(days=d)).date()
                report = run_day(client, clock=self.clock, routines=routines, day=day, rng=rng)
                self.outcome.legit_requests += report.requests
                refused += sum(report.refused.values())
                advance(d + 1, self.options.days)
        with self.w.sessions() as session:
            suspended = session.scalar(
                select(func.count())
                .select_from(Processor)
                .where(Processor.suspended_at.isnot(None))
            )
        self.outcome.legit_suspensions = int(suspended or 0)
        claim(self.outcome.legit_requests > 0, "no legitimate traffic was played")
        claim(suspended == 0, f"{suspended} provider(s) suspended by ordinary work (false alarm)")
        return [
            f"gateway on {url} (real HTTP; the simulator drives the gateway's clock)",
            f"{self.options.days} days of {len(routines)} providers' work: "
            f"{self.outcome.legit_requests:,} requests (reads and attendance write-backs), "
            f"{refused} refused, 0 suspensions",
        ]

    # -- 3 ------------------------------------------------------------------------------
    def step_attack(self, url: str) -> list[str]:
        with self.w.sessions() as session:
            regional = [p for p in session.scalars(select(Processor)) if p.region]
            victim = max(regional, key=lambda p: len(self.w.scopes.get(p.id, [])))
            normal = session.scalar(
                select(func.max(ActivityWindow.people)).where(
                    ActivityWindow.processor_id == victim.id, ActivityWindow.span == "day"
                )
            )
        scope = set(self.w.scopes[victim.id])
        self.outcome.victim, self.outcome.victim_scope = victim.name, len(scope)
        self.outcome.normal_day = int(normal or 0)
        attack_start = self.start + timedelta(days=self.options.days, hours=ATTACK_HOUR)
        self.clock.set(attack_start)
        recorder = RecordingTransport()
        report = run_attack(
            url=url,
            tokens=[self.w.tokens[victim.name]],
            config=AttackConfig(strategy="bulk", max_days=2),
            pacer=DrivenPacer(self.clock),
            transport=recorder,
        )
        self.records = list(recorder.records.values())
        names = Pseudonymiser(self.w.secrets, victim.id)
        outside = sum(1 for p in report.pseudonyms if names.decode(p) not in scope)
        self.outcome.stolen, self.outcome.stolen_outside_scope = report.people, outside
        with self.w.sessions() as session:
            alerts = list(
                session.scalars(
                    select(Alert)
                    .where(Alert.processor_id == victim.id, Alert.raised_at >= attack_start)
                    .order_by(Alert.id)
                )
            )
        acted = [a.containment for a in alerts if a.containment != "alert"]
        contained = (report.stopped or report.throttled > 0) and not report.finished_scope
        self.outcome.attack_stop = acted[0] if acted else ("budget" if contained else None)
        limit = self.outcome.normal_day + CONTAINMENT_MARGIN
        claim(contained, f"the attack was not contained: it took {report.people:,} people")
        claim(report.people <= limit, f"contained too late: {report.people:,} > {limit:,} people")
        claim(outside == 0, f"{outside} people outside the provider's scope were disclosed")
        ending = (
            f"HTTP {report.stop_status} — {report.stop_reason}"
            if report.stopped
            else f"throttled ({report.throttled} × 429 with a long Retry-After); its walk "
            "through the scope ended there"
        )
        lines = [
            f"stolen key of [bold]{victim.name}[/] ({victim.legal_name}), scope "
            f"{len(scope):,} people, normal day {self.outcome.normal_day:,} people",
        ]
        lines += [
            escape(f"alert [{a.severity}] {a.detector} → {a.containment}: {a.summary}")
            for a in alerts
        ]
        if contained and not acted:
            lines.append("no detector needed to act: the contract's daily budget of distinct "
                         "people stopped the walk (429)")  # fmt: skip
        lines += [
            f"the attacker, after {report.requests} requests: {ending}",
            f"it obtained [bold]{report.people:,}[/] people: "
            f"{report.people * 100 / len(scope):.1f}% of that provider's scope, "
            f"{report.people * 100 / REAL_CASE:.3f}% of the 2.1 million of the real case; "
            f"0 outside its scope",
        ]
        return lines

    # -- 4 ------------------------------------------------------------------------------
    def step_leak(self) -> list[str]:
        leak_dir = self.w.out / "leak"
        leak_dir.mkdir()
        dump = leak_dir / "ofii_extraction_2026.csv"
        write_dump(self.records, dump)
        report = analyze(
            self.w.engine, paths=[dump], secrets=self.w.secrets, settings=self.w.settings
        )
        report.write_json(leak_dir / "report.json")
        report.write_html(leak_dir / "report.html")
        report.write_affected_csv(leak_dir / "affected.csv")
        self.leak_report = report.as_dict()
        self.outcome.leak_attribution = report.attribution
        self.outcome.affected = len(report.affected)
        self.outcome.outputs["leak report"] = leak_dir / "report.html"
        best = report.attribution[0] if report.attribution else {}
        claim(report.verdict == "authentic", f"the dump was judged {report.verdict}")
        named, victim = best.get("processor"), self.outcome.victim
        claim(named == victim, f"attributed to {named!r}, not {victim!r}")
        found, stolen = self.outcome.affected, self.outcome.stolen
        claim(found == stolen, f"{found} affected people found, {stolen} stolen")
        window = report.leak_window or {}
        received = best.get("received") or {}
        served = ""
        if received:
            served = (
                f"; the served index shows {named} received them between "
                f"{_minute(received['first'])} and {_minute(received['last'])} UTC, "
                f"all of them only from {_minute(received['complete_from'])}"
            )
        fields = sorted({f for a in report.affected for f in a.fields})
        return [
            f"posted: {dump.name} ({report.rows:,} rows, semicolons, French headers)",
            f"verdict [bold]{report.verdict}[/]; {report.matched_rows:,} rows linked to "
            f"{self.outcome.affected:,} people; {report.canary_rows} canary row(s)",
            f"attributed to [bold]{best.get('processor')}[/] (confidence "
            f"{best.get('confidence')}) — {_evidence_line(best)}",
            f"exposed fields: {', '.join(fields)}",
            f"taken {_window_line(window)}{served}",
        ]

    # -- 5 ------------------------------------------------------------------------------
    def step_incident(self) -> list[str]:
        lines: list[str] = []
        with self.w.sessions.begin() as session:
            incident = open_from_leak(
                session, report=self.leak_report, actor=ACTOR, report_ref="leak/report.json"
            )
            self.outcome.incident_id = incident.id
            risk = assess_incident(session, incident_id=incident.id, actor=ACTOR)
            if not risk.notify_people:
                # What a DPO does for this population: inform people even below "high".
                risk = overrule_incident(
                    session, incident_id=incident.id, notify_people=True, actor=ACTOR,
                    reason="refugees and asylum seekers, contact details exposed, targeted "
                    "phishing likely",
                )  # fmt: skip
        lines.append(
            f"incident #{incident.id} opened; 72-hour clock started (deadline "
            f"{(incident.aware_at + timedelta(hours=72)):%Y-%m-%d %H:%M} UTC)"
        )
        lines.append(f"risk {risk.level} (severity {risk.severity:.1f}): {risk.decision}")
        lines += self._authority_pack(incident.id)
        lines += self._notices(incident.id)
        lines += self._canary_trip()
        return lines

    def _authority_pack(self, incident_id: int) -> list[str]:
        out = self.w.out / "authority-pack"
        with self.w.sessions.begin() as session:
            row = prepare_pack(session, self.w.settings, incident_id=incident_id, actor=ACTOR,
                               audit_key=self.w.secrets.verify_key,
                               audit_keys=self.w.secrets.audit_keys)  # fmt: skip
            paths = write_pack(row, out_dir=out)
            content = row.content
        claim("pdf" in paths and paths["pdf"].exists(), "the authority pack has no PDF")
        self.outcome.outputs["authority pack"] = out
        return [
            f"authority pack (Art. 33(3)): {', '.join(p.name for p in paths.values())}; "
            f"{content['breach']['time_left']}"
        ]

    def _notices(self, incident_id: int) -> list[str]:
        from vigie.breach.channels import from_settings
        from vigie.breach.notify import context_for, send_notices

        with MailSink(self.w.out / "mail") as sink:
            settings = self.w.settings.model_copy(
                update={"smtp_host": "127.0.0.1", "smtp_port": sink.port}
            )
            channels = from_settings(settings, names=("email", "letter"), incident_id=incident_id)
            with self.w.sessions() as session:
                context = context_for(settings, session, incident_id=incident_id)
            with self._bar("notices") as advance:
                report = send_notices(
                    self.w.sessions, incident_id=incident_id, context=context,
                    channels=channels, secrets=self.w.secrets, lock_dir=self.w.out / "data",
                    actor=ACTOR, progress=advance, bound=Bound.of(settings),
                )  # fmt: skip
            delivered = sink.count
        sent = dict(report.sent)
        self.outcome.notices = sent
        claim(sent.get("email", 0) == delivered, f"{delivered} e-mails reached the sink, "
              f"{sent.get('email', 0)} recorded as sent")  # fmt: skip
        claim(sum(sent.values()) > 0, "no notice was sent")
        self.outcome.outputs["e-mail notices"] = self.w.out / "mail"
        languages = ", ".join(f"{k} {v}" for k, v in report.languages.most_common())
        return [
            f"notices: {sent.get('email', 0):,} e-mails (to a local SMTP sink), "
            f"{sent.get('letter', 0):,} PDF letters; {report.no_contact} without contact",
            f"languages: {languages}",
        ]

    def _canary_trip(self) -> list[str]:
        victim_id = self.w.processor_ids[self.outcome.victim]
        names = Pseudonymiser(self.w.secrets, victim_id)
        with self.w.sessions.begin() as session:
            canaries = canary_ids(session)
            stolen = [names.decode(r["pseudonym"]) for r in self.records]
            in_haul = [sid for sid in stolen if sid in canaries]
            served = sorted(canaries & received_by(session, processor_id=victim_id))
            assigned = [sid for sid in self.w.scopes[victim_id] if sid in canaries]
            choices = [
                (in_haul, "one of the stolen canaries"),
                (served, "a canary that provider received"),
                (assigned, "a canary assigned to that provider"),
            ]
            pool, origin = next(((p, o) for p, o in choices if p), ([], ""))
            claim(bool(pool), "no canary in the provider's scope")
            contact = session.scalar(
                select(CanaryContact.value).where(
                    CanaryContact.subject_id == pool[0], CanaryContact.kind == "email"
                )
            )
            claim(contact is not None, "the canary has no e-mail contact")
            result = trip(
                session, contact=str(contact), actor=ACTOR, source="mail gateway (demo)",
                public_key=self.w.secrets.audit_keys, bound=Bound.of(self.w.settings),
                now=utcnow(),
            )  # fmt: skip
        named = result.received_by or result.processors
        claim(self.outcome.victim in named, f"the canary trip named {named}, not the victim")
        received = ", ".join(result.received_by) or "nobody"
        return [
            f"canary trip: a phishing e-mail reached {origin}; critical alert on the "
            f"processors that received it ({received}); also assigned to: "
            f"{', '.join(sorted(set(result.processors) - set(result.received_by))) or '-'}"
        ]

    # -- 6 ------------------------------------------------------------------------------
    def step_requirements(self) -> list[str]:
        assert self.outcome.incident_id is not None
        lines, outputs = after_the_leak(
            self.w, incident_id=self.outcome.incident_id, victim=self.outcome.victim,
            now=utcnow(),
        )  # fmt: skip
        self.outcome.outputs.update(outputs)
        return lines

    def step_console(self) -> list[str]:
        operator = demo_operator(
            self.w.sessions, actor=ACTOR, cost=PasswordCost.of(self.w.settings)
        )
        self.outcome.console_operator = operator
        return [
            f"a demo operator for the console, DEMO ONLY: login {operator.login} (role dpo)",
            f"  password: {operator.password}",
            f"  TOTP key: {operator.totp_secret} (or scan the QR code shown at first sign-in)",
            f"  console: `vigie serve` with VIGIE_DATA_DIR={self.w.settings.data_dir}, then "
            f"{CONSOLE_URL}",
        ]

    # -- 7 ------------------------------------------------------------------------------
    def step_audit(self) -> list[str]:
        out = self.w.out / "audit-export"
        exported = export_trail(
            self.w.engine, self.w.sessions, out=out, secrets=self.w.secrets, actor=ACTOR
        )
        self.outcome.audit_events = exported.events
        self.outcome.outputs["audit export"] = out
        # Anchor the export's own event, as every CLI command anchors what it appended.
        Checkpointer(
            sessions=self.w.sessions, signing_key=self.w.secrets.signing_key, every_events=1
        ).maybe_checkpoint()
        # Verify after the export, against the checkpoint it wrote, as its recipient would.
        jsonl = out / "checkpoints.jsonl"
        held = parse_held(jsonl.read_text(encoding="utf-8"), source=str(jsonl))[-1:]
        verified = verify_trail(self.w.engine, public_key=self.w.secrets.audit_keys, held=held)
        claim(verified.events > exported.events, "the trail lost events after the export")
        claim(verified.checkpoints > 0, "no checkpoint anchors the trail")
        claim(held[0].id == exported.checkpoint_id, "the export's last checkpoint is not its own")
        return [
            f"exported {exported.events:,} events with signed checkpoint "
            f"#{exported.checkpoint_id} to {out} "
            f"(check it alone: {exported.key.verify_command(out)})",
            f"then {verified.events:,} events and {verified.checkpoints} checkpoint(s) verified, "
            f"consistent with the exported checkpoint #{exported.checkpoint_id}; unanchored: "
            f"{verified.tail.describe(time.time_ns() // 1000)}",
        ]


def _minute(iso: str) -> str:
    return iso[:16].replace("T", " ")


def _window_line(window: dict[str, Any]) -> str:
    start, end = window.get("from"), window.get("to")
    since = f"after {str(start)[:10]}" if start else "at an unknown time"
    until = f" and before {str(end)[:10]}" if end else " (the values are still current)"
    return since + until


def _evidence_line(best: dict[str, Any]) -> str:
    evidence = best.get("evidence") or {}
    if isinstance(evidence, dict):
        parts = [f"{k.replace('_', ' ')}: {v}" for k, v in list(evidence.items())[:3]]
        return "; ".join(parts)
    return str(evidence)[:120]
