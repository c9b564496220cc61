"""Notices: 2.1 M personalised e-mail bodies, PDF letters per minute, and the crash test.

1. Render the e-mail notice (subject, plain text, HTML) of 2,100,000 synthetic people in
   the population's language mix (``vigie.synth.people``), each with their own exposed
   fields, code and reference; target: at most 5 minutes. Peer: rendering the full Jinja
   templates for every person (no per-language slots), measured on a sample.
2. PDF letters (WeasyPrint, prepared subset fonts): letters per minute, one process.
3. Crash test: `vigie incident notify` on a 20,000-notice batch against an SMTP server on
   loopback, killed at ten random points (SIGTERM, then SIGKILL), then run to completion:
   duplicates and missing notices are counted from what the server received.

Usage: ``python -m benchmarks notices`` (``BENCH_NOTICES_PEOPLE`` / ``BENCH_CRASH_PEOPLE``
shrink the runs for a quick look).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from vigie.breach import i18n
from vigie.breach.codes import make_code
from vigie.breach.notices import NoticeContext, NoticeRenderer, Recipient

PEOPLE = int(os.environ.get("BENCH_NOTICES_PEOPLE", "2100000"))
CRASH_PEOPLE = int(os.environ.get("BENCH_CRASH_PEOPLE", "20000"))
TARGET_SECONDS = 300
CTX = NoticeContext(
    incident_id=1,
    controller="OFII",
    phone="+33 1 00 00 00 00",
    email="dpo@controller.example",
    check_url="https://controller.example/verifier",
    aware_on=date(2026, 1, 12),
)
# Exposure patterns: most people in the full dump, some in a partial extract.
PATTERNS = (
    frozenset(
        {
            "given_name",
            "family_name",
            "email",
            "phone",
            "nationality",
            "residence_status",
            "residence_reason",
            "entry_date",
            "ref",
        }
    ),
    frozenset({"given_name", "family_name", "email", "phone"}),
    frozenset(
        {
            "given_name",
            "family_name",
            "postal_code",
            "city",
            "address_line",
            "birth_date",
            "nationality",
        }
    ),
)
KEY = b"bench-notice-code-key-0123456789"


def _people(start: int, n: int) -> list[tuple[int, str, str, str]]:
    from vigie.synth.people import generate, refs_of

    batch = generate(n, seed=2026, start=start)
    cols = batch.columns
    refs = refs_of(batch.ids)
    return [
        (
            int(batch.ids[i]),
            refs[i],
            f"{cols['given_name'][i]} {cols['family_name'][i]}",
            str(cols["preferred_language"][i]),
        )
        for i in range(n)
    ]


def _render_range(args: tuple[int, int]) -> tuple[int, int, float, Counter[str]]:
    """Generate people ``start..start+n`` and render their e-mails; (count, bytes, s, langs)."""
    start, n = args
    people = _people(start, n)
    renderer = NoticeRenderer(CTX)
    langs: Counter[str] = Counter()
    size = 0
    t0 = time.perf_counter()
    for sid, ref, name, lang in people:
        r = Recipient(
            subject_id=sid,
            ref=ref,
            name=name,
            language=lang,
            fields=PATTERNS[sid % 7 % 3],
            code=make_code(KEY, incident_id=1, subject_id=sid),
        )
        mail = renderer.email(r)
        size += len(mail.text) + len(mail.html) + len(mail.subject)
        langs["+".join(mail.languages)] += 1
    return len(people), size, time.perf_counter() - t0, langs


def bench_render() -> None:
    print(f"-- rendering {PEOPLE:,} personalised e-mail notices (subject, text, HTML)")
    workers = 2
    chunk = 50_000
    jobs = [(s, min(chunk, PEOPLE - s)) for s in range(0, PEOPLE, chunk)]
    t0 = time.perf_counter()
    ctx = mp.get_context("fork")
    with ctx.Pool(workers) as pool:
        results = pool.map(_render_range, jobs)
    wall = time.perf_counter() - t0
    count = sum(r[0] for r in results)
    render_cpu = sum(r[2] for r in results)
    langs: Counter[str] = Counter()
    for r in results:
        langs.update(r[3])
    print(f"rendered {count:,} notices, {sum(r[1] for r in results) / 1e9:.2f} GB of text")
    print(
        f"wall time (generation of the people included, {workers} processes): {wall:.1f} s "
        f"— target {TARGET_SECONDS} s: {'MET' if wall <= TARGET_SECONDS else 'MISSED'}"
    )
    print(
        f"rendering alone: {render_cpu:.1f} s summed over the processes = "
        f"{count / render_cpu:,.0f} notices/s per process"
    )
    top = ", ".join(f"{k} {v / count:.1%}" for k, v in langs.most_common(14))
    print(f"language mix: {top}")

    # Peer: the full templates rendered for every person.
    sample = _people(0, 5_000)
    renderer = NoticeRenderer(CTX)
    t = time.perf_counter()
    for sid, ref, name, lang in sample:
        renderer._render_email(Recipient(sid, ref, name, lang, PATTERNS[sid % 7 % 3], "ABCD-EFGH"))
    full = (time.perf_counter() - t) / len(sample)
    t = time.perf_counter()
    for sid, ref, name, lang in sample:
        renderer.email(Recipient(sid, ref, name, lang, PATTERNS[sid % 7 % 3], "ABCD-EFGH"))
    slotted = (time.perf_counter() - t) / len(sample)
    print(
        f"peer, full Jinja render per person: {full * 1e6:.0f} µs/notice; slotted: "
        f"{slotted * 1e6:.1f} µs/notice; ratio {full / slotted:.1f}x; 2.1 M at the peer's "
        f"rate on {workers} processes ≈ {2_100_000 * full / workers:.0f} s"
    )


def bench_letters() -> None:
    from vigie.breach import letters
    from vigie.breach.fonts import prepare

    n = 60
    print(f"-- PDF letters: {n} letters in the population's language mix, one process")
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        prepared = prepare(Path(tmp) / "fonts")
        print(f"font preparation (once per instance): {time.perf_counter() - t:.1f} s")
        renderer = NoticeRenderer(CTX, letter_fonts=prepared)
        people = _people(0, n)
        docs = []
        t = time.perf_counter()
        for sid, ref, name, lang in people:
            r = Recipient(
                sid,
                ref,
                name,
                lang,
                PATTERNS[0],
                "ABCD-EFGH",
                address="1 rue de l'Exemple\n75011 Paris",
            )
            doc = letters.render_document(
                renderer.letter_html(r), languages=i18n.languages_for(lang), prepared=prepared
            )
            doc.write_pdf(Path(tmp) / f"{sid}.pdf")
            docs.append(doc)
        per = (time.perf_counter() - t) / n
        t = time.perf_counter()
        letters.merge(docs, Path(tmp) / "batch.pdf")
        merge = time.perf_counter() - t
    print(
        f"{per:.3f} s per letter = {60 / per:.0f} letters/min per process; merging {n} "
        f"into one printer file {merge:.1f} s"
    )


def _setup_crash_db(tmp: Path, n: int) -> tuple[dict[str, str], int]:
    from sqlalchemy import insert

    from vigie.audit.checkpoints import take
    from vigie.audit.seals import reseal
    from vigie.breach import incidents
    from vigie.breach.assessment import assess_incident
    from vigie.registry.models import Subject
    from vigie.registry.population import declare_population, load_population
    from vigie.secrets import ensure_secrets, load_secrets
    from vigie.settings import Settings
    from vigie.store.engine import make_engine, make_session_factory
    from vigie.store.migrate import upgrade
    from vigie.synth.load import POPULATION
    from vigie.synth.people import generate, refs_of

    settings = Settings(data_dir=tmp / "data")
    ensure_secrets(settings.resolved_secrets_dir)
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    batch = generate(n, seed=7)
    cols, refs = batch.columns, refs_of(batch.ids)
    now = datetime.now(UTC)
    rows = []
    for i in range(n):
        rec = batch.record(i)
        rec = {k: v for k, v in rec.items() if k in Subject.__table__.columns}
        rec.update(
            ref=refs[i],
            id=int(batch.ids[i]),
            valid_from=now,
            email=f"p{int(batch.ids[i])}@example.org",
        )
        rows.append(rec)
    del cols
    with engine.begin() as conn:
        for s in range(0, n, 5000):
            conn.execute(insert(Subject), rows[s : s + 5000])
    sessions = make_session_factory(engine)
    with sessions.begin() as s:
        reseal(s, actor="operator:bench")  # the people inserted in bulk, sealed as they are
        declare_population(s, context=load_population(POPULATION), actor="operator:bench")
        inc = incidents.open_incident(
            s, title="bench", source="manual", aware_at=now, actor="operator:bench"
        )
        incidents.record_exposure(
            s,
            incident_id=inc.id,
            actor="operator:bench",
            exposures={r["id"]: PATTERNS[0] for r in rows},
        )
        assess_incident(s, incident_id=inc.id, actor="operator:bench", malicious=True)
        incident_id = inc.id
    with sessions.begin() as s:  # notices go through the evidence gate: anchor the trail
        signing_key = load_secrets(settings.resolved_secrets_dir).signing_key
        take(s, signing_key=signing_key, actor="operator:bench")
    engine.dispose()
    env = {**os.environ, "VIGIE_DATA_DIR": str(settings.data_dir)}
    return env, incident_id


def bench_crash(sig: signal.Signals, kills: int = 10) -> None:
    from aiosmtpd.controller import Controller

    print(f"-- crash test: {CRASH_PEOPLE:,} e-mails, {kills} random {sig.name}s, then completion")
    with tempfile.TemporaryDirectory() as tmp:
        env, incident_id = _setup_crash_db(Path(tmp), CRASH_PEOPLE)
        received: Counter[str] = Counter()
        total = [0]

        class Sink:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                received[envelope.rcpt_tos[0]] += 1
                total[0] += 1
                return "250 OK"

        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        controller = Controller(Sink(), hostname="127.0.0.1", port=port)
        controller.start()
        env.update(VIGIE_SMTP_HOST="127.0.0.1", VIGIE_SMTP_PORT=str(port))
        entry = (
            "import typer; from vigie.cli.incident import group; "
            "typer.main.get_command(group)(prog_name='vigie incident')"
        )
        cmd = [sys.executable, "-c", entry, "notify", str(incident_id), "--channel", "email"]
        rng = random.Random(sig.value)
        points = sorted(rng.sample(range(100, CRASH_PEOPLE - 100), kills))
        t0 = time.perf_counter()
        done = 0
        for point in points:
            proc = subprocess.Popen(
                cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            while total[0] < point and proc.poll() is None:
                time.sleep(0.002)
            time.sleep(rng.random() * 0.003)
            if proc.poll() is None:
                proc.send_signal(sig)
                done += 1
            proc.wait()
        final = subprocess.run(cmd, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        controller.stop()
        expected = {f"p{i}@example.org" for i in range(1, CRASH_PEOPLE + 1)}
        dups = sum(1 for n in received.values() if n > 1)
        missing = len(expected - set(received))
        total = sum(received.values())
        print(
            f"{done} kills, final run exit {final.returncode}; {total:,} messages received "
            f"in {wall:.0f} s: duplicates {dups}, missing {missing}"
        )


def main() -> None:
    parts = os.environ.get("BENCH_NOTICES_PARTS", "render,letters,sigterm,sigkill").split(",")
    if "render" in parts:
        bench_render()
    if "letters" in parts:
        bench_letters()
    if "sigterm" in parts:
        bench_crash(signal.SIGTERM)
    if "sigkill" in parts:
        bench_crash(signal.SIGKILL)
