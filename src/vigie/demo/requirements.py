"""The demo's provider requirements: a baseline some providers meet and some do not, a
campaign after the leak, and the dossier of the provider at its origin.

Before the simulated days, the DPO applies a baseline (allow-lists on keys, keys that
expire, the budget within four times the normal volume, MFA attested) with a deadline
the next day; half of the providers — never the one whose key will be stolen — set
allow-lists and expiries on their keys and attest MFA. After the incident, a campaign
raises the baseline (a 24/7 security contact, keys valid 30 days at most), e-mails each
provider in French (to the local SMTP sink) and follows acknowledgements; then the
dossier of the provider at the origin of the leak is built and verified offline, and
the compliance report is written.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from vigie.audit import offline
from vigie.breach.channels import SmtpChannel
from vigie.breach.clock import FixedClock
from vigie.demo.mailsink import MailSink
from vigie.demo.steps import claim
from vigie.demo.world import ACTOR, World
from vigie.processors.models import Processor
from vigie.requirements.apply import apply_parsed, latest_versions
from vigie.requirements.attestations import Submission, attestations_dir, record_attestation
from vigie.requirements.campaigns import acknowledge, progress, send_notices, start_campaign
from vigie.requirements.dossier_pack import build_dossier
from vigie.requirements.report import compliance, to_csv, to_html
from vigie.requirements.spec import parse_requirements

BASELINE = """\
baseline: "CIR providers, before the leak"
requirements:
  - id: key-allow-list
    version: 1
    kind: enforced
    check: key-allow-list
    text:
      fr: "Chaque clé d'API est limitée à une liste d'adresses IP du prestataire."
      en: "Every API key is restricted to an allow-list of the provider's addresses."
    deadline: {before}
    consequence: refuse_new_keys
    clauses: ["Contrat CIR, annexe sécurité §4.2", "RGPD art. 28(3)(c) et 32"]
  - id: key-expiry
    version: 1
    kind: enforced
    check: key-expiry
    text:
      fr: "Chaque clé d'API expire au plus tard 90 jours après sa délivrance."
      en: "Every API key expires at most 90 days after it is issued."
    parameters: {{max_days: 90}}
    deadline: {expiry}
    consequence: warn
    clauses: ["Contrat CIR, annexe sécurité §4.3"]
  - id: budget-ratio
    version: 1
    kind: enforced
    check: budget-ratio
    text:
      fr: "Le budget quotidien ne dépasse pas quatre fois le volume normal déclaré."
      en: "The daily budget is at most four times the declared normal volume."
    parameters: {{max_ratio: 4}}
    deadline: {before}
    consequence: reduce_budget
    reduce_budget_to: 0.5
  - id: mfa
    version: 1
    kind: attested
    check: mfa
    text:
      fr: "L'authentification multifacteur protège tout compte ayant accès aux données."
      en: "Multi-factor authentication protects every account that can reach the data."
    deadline: {before}
    consequence: warn
    clauses: ["Contrat CIR, annexe sécurité §2.1", "RGPD art. 32"]
"""
RAISED = (
    BASELINE.replace('"CIR providers, before the leak"', '"After the CIR leak"')
    .replace("  - id: key-expiry\n    version: 1", "  - id: key-expiry\n    version: 2")
    .replace("au plus tard 90 jours", "au plus tard 30 jours")
    .replace("at most 90 days", "at most 30 days")
    .replace("{{max_days: 90}}", "{{max_days: 30}}")
    + """\
  - id: security-contacts
    version: 1
    kind: enforced
    check: security-contacts
    text:
      fr: "Le prestataire désigne un responsable sécurité et un contact sécurité joignable 24h/24."
      en: "The provider names a security officer and a security contact reachable 24/7."
    deadline: {after}
    consequence: suspend
    clauses: ["RGPD art. 33(2)"]
"""
)
EVIDENCE = b"%PDF-1.4\n% synthetic MFA evidence of a fictitious provider\n%%EOF\n"


def future_victim(world: World) -> str:
    """The provider whose key the demo's thief steals: the largest regional scope."""
    with world.sessions() as session:
        regional = [p for p in session.scalars(select(Processor)) if p.region]
    return max(regional, key=lambda p: len(world.scopes.get(p.id, []))).name


def diligent(world: World) -> set[str]:
    """Half of the providers, never the future victim: they meet the baseline."""
    victim = future_victim(world)
    names = sorted(n for n in world.processor_ids if n != victim)
    return set(names[::2])


def apply_baseline(world: World, *, now: datetime) -> list[str]:
    """The baseline applied at ``now`` (deadline the next day), and the diligent providers'
    MFA attestations."""
    day = (now + timedelta(days=1)).date().isoformat()
    text = BASELINE.format(before=day, expiry=day)
    good = diligent(world)
    mfa = Submission(
        requirement="mfa",
        statement="MFA on every account (synthetic).",
        expires_on=(now + timedelta(days=365)).date(),
        document=EVIDENCE,
    )
    store = attestations_dir(world.settings.data_dir)
    with world.sessions.begin() as session:
        applied = apply_parsed(session, parsed=parse_requirements(text), actor=ACTOR, now=now)
        for name in sorted(good):
            proc = session.scalar(select(Processor).where(Processor.name == name))
            assert proc is not None
            record_attestation(
                session, processor=proc, submission=mfa, actor=ACTOR, store_dir=store, now=now,
                require_signature=False,
            )  # fmt: skip
    claim(len(applied.changes) == 4, "the baseline was not applied")
    return [
        f"baseline of {len(applied.changes)} requirements applied (deadline "
        f"{(now + timedelta(days=1)):%Y-%m-%d}); {len(good)} of {len(world.processor_ids)} "
        "providers set allow-lists and expiries on their keys and attest MFA"
    ]


def after_the_leak(
    world: World, *, incident_id: int, victim: str, now: datetime
) -> tuple[list[str], dict[str, Path]]:
    """The campaign, the dossier of ``victim`` verified offline, the compliance report."""
    out: dict[str, Path] = {}
    with world.sessions() as session:
        applied = {k: v.deadline.isoformat() for k, v in latest_versions(session).items()}
    later = (now + timedelta(days=30)).date().isoformat()
    text = RAISED.format(before=applied["mfa"], expiry=later, after=later)
    with world.sessions.begin() as session:
        started = start_campaign(session, parsed=parse_requirements(text), actor=ACTOR, now=now)
    assert started.campaign_id is not None
    with MailSink(world.out / "mail-requirements") as sink:
        channel = SmtpChannel(host="127.0.0.1", port=sink.port, mail_from=world.settings.mail_from)
        sent = send_notices(world.sessions, campaign_id=started.campaign_id, channel=channel,
                            controller=world.settings.controller_legal_name,
                            clock=FixedClock(now))  # fmt: skip
        delivered = sink.count
    claim(sent.sent == started.providers == delivered, "not every provider got the campaign")
    out["campaign e-mails"] = world.out / "mail-requirements"
    with world.sessions.begin() as session:
        for name in sorted(diligent(world)):
            proc = session.scalar(select(Processor).where(Processor.name == name))
            assert proc is not None
            acknowledge(session, campaign_id=started.campaign_id, processor=proc, actor=ACTOR,
                        now=now)  # fmt: skip
        rows = progress(session, campaign_id=started.campaign_id, at=now)
    acked = sum(1 for r in rows if r.acknowledged_at)
    dossier_dir = world.out / f"dossier-{victim}"
    with world.sessions.begin() as session:
        built = build_dossier(session, world.settings, world.secrets, processor=victim,
                              incident_id=incident_id, out_dir=dossier_dir, actor=ACTOR,
                              now=now)  # fmt: skip
    key = offline.expected_key(key_file=None, expected_fingerprint=built.fingerprint,
                               candidate=dossier_dir / offline.BUNDLED_KEY)  # fmt: skip
    verdict = offline.verify_dossier(dossier_dir, key=key)
    claim(verdict.startswith("OK dossier"), "the dossier does not verify offline")
    out["dossier"] = dossier_dir
    with world.sessions() as session:
        report = compliance(session, at=now)
    breached = [r.requirement for r in report.rows if r.processor == victim and r.state != "met"]
    claim(bool(breached), f"the provider at the origin, {victim}, meets every requirement")
    before = [t["before"] for t in report.trend.values() if t["before"]]
    full_before = sum(1 for b in before if b["met"] == b["total"])
    claim(0 < full_before < len(world.processor_ids),
          "the baseline should be met by some providers, not all")  # fmt: skip
    report_dir = world.out / "compliance"
    report_dir.mkdir(exist_ok=True)
    (report_dir / "compliance.csv").write_text(to_csv(report), encoding="utf-8")
    from weasyprint import HTML

    HTML(string=to_html(report)).write_pdf(report_dir / "compliance.pdf")
    out["compliance report"] = report_dir
    raised = ", ".join(f"{c.requirement} v{c.version}" for c in started.applied.changes)
    full = sum(
        1 for name in world.processor_ids
        if all(r.state == "met" for r in report.rows if r.processor == name)
    )  # fmt: skip
    return [
        f"campaign {started.campaign_id} ({raised}): "
        f"{delivered} e-mails in French to the providers' contacts, {acked} acknowledged",
        f"compliance: {full_before} of {len(world.processor_ids)} providers met the baseline "
        f"before the campaign, {full} meet the raised one yet (deadline in 30 days); {victim} "
        f"breaches {', '.join(breached)}",
        f"dossier of {victim}: {len(built.files)} files, {len(built.cited)} audit events "
        f"proven; {verdict[3:]}",
    ], out
