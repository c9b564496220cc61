"""The demo's world: a fresh instance, the CIR providers sized to the population, keys.

The shipped providers file (``vigie/synth/providers.yaml``) is sized for the 2.1 million
people of the real case. For a smaller demo population its declared volumes and budgets
are scaled in proportion (as the detection benchmark does), written next to the outputs,
and applied through the same validated, audited ``apply`` path.
"""

from __future__ import annotations

import shutil
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from vigie.errors import InvalidInput
from vigie.instance import initialise
from vigie.processors.keys import issue_key
from vigie.processors.models import Assignment, Processor
from vigie.secrets import InstanceSecrets, load_secrets
from vigie.settings import Settings, isolated_settings
from vigie.store.engine import make_engine, make_session_factory
from vigie.synth.load import PROVIDERS, SynthReport, synthesize

REAL_CASE = 2_100_000
ACTOR = "operator:demo"
MARKER = ".vigie-demo"  # marks a directory the demo made, and so may replace
LOOPBACK = ("127.0.0.0/8", "::1/128")  # where the demo's providers call the gateway from


UNBOUNDED = 1_000_000_000  # the largest budget a contract takes


def scaled_providers(people: int, target: Path, *, budgets: bool = True) -> Path:
    """Write the shipped providers file with volumes and budgets scaled to ``people``.

    ``budgets=False`` lifts every budget (a plain API, to show what Vigie prevents).
    """
    spec: dict[str, Any] = yaml.safe_load(PROVIDERS.read_text(encoding="utf-8"))
    scale = min(1.0, people / REAL_CASE)
    for processor in spec["processors"]:
        for contract in processor["contracts"]:
            expected = max(1, round((contract.get("expected_per_day") or 0) * scale))
            budget = contract["budget"]
            budget["per_day"] = max(3 * expected, round(budget["per_day"] * scale))
            budget["per_30_days"] = max(40 * expected, round(budget["per_30_days"] * scale))
            contract["expected_per_day"] = expected
            if not budgets:
                budget["per_day"] = budget["per_30_days"] = UNBOUNDED
    target.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), "utf-8")
    return target


@dataclass
class World:
    """A demo instance and what the steps share."""

    out: Path
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    secrets: InstanceSecrets
    synth: SynthReport | None = None
    tokens: dict[str, str] = field(default_factory=dict)  # processor name -> key
    processor_ids: dict[str, int] = field(default_factory=dict)
    trainers: set[str] = field(default_factory=set)  # the regional training providers
    scopes: dict[int, list[int]] = field(default_factory=dict)

    @classmethod
    def fresh(cls, out: Path) -> World:
        """An empty instance under ``out``, replacing an earlier demo's outputs there.

        Its settings come from the defaults alone, never from the environment.
        Refuses any other existing file or non-empty directory: the demo never deletes
        what it did not make.
        """
        if out.exists():
            if out.is_dir() and (out / MARKER).exists():
                shutil.rmtree(out)
            elif not out.is_dir() or any(out.iterdir()):
                raise InvalidInput(
                    f"{out} exists and is not an earlier demo's output; "
                    "choose another --out or remove it yourself"
                )
        out.mkdir(parents=True, exist_ok=True)
        (out / MARKER).write_text("outputs of `vigie demo`; replaced by the next run\n")
        # The demo's instance is its own: no VIGIE_* of the shell (a production database
        # URL, secrets directory, outbox, alert targets) reaches it.
        settings = isolated_settings(data_dir=out / "data")
        engine = make_engine(settings.resolved_database_url)
        initialise(settings, engine)
        return cls(
            out=out,
            settings=settings,
            engine=engine,
            sessions=make_session_factory(engine),
            secrets=load_secrets(settings.resolved_secrets_dir),
        )

    def populate(
        self, *, people: int, seed: int, budgets: bool = True, progress: Any = None
    ) -> SynthReport:
        """Synthesise the population and its providers, then read back the scopes."""
        providers = scaled_providers(people, self.out / "providers.yaml", budgets=budgets)
        self.synth = synthesize(
            self.engine, people=people, seed=seed, progress=progress, actor=ACTOR,
            providers=providers,
        )  # fmt: skip
        with self.sessions() as session:
            processors = list(session.scalars(select(Processor)))
            self.processor_ids = {p.name: p.id for p in processors}
            self.trainers = {p.name for p in processors if p.region}
            rows = session.execute(select(Assignment.processor_id, Assignment.subject_id))
            scopes: dict[int, set[int]] = {}
            for pid, sid in rows:
                scopes.setdefault(pid, set()).add(sid)
        self.scopes = {pid: sorted(ids) for pid, ids in scopes.items()}
        return self.synth

    def issue_keys(self, *, now: datetime, diligent: Collection[str] = ()) -> None:
        """One key per processor (the demo plays every provider's software); the
        ``diligent`` ones restrict theirs to loopback and let it expire in 60 days."""
        with self.sessions.begin() as session:
            for name in self.processor_ids:
                careful = name in diligent
                issued = issue_key(
                    session, processor=name, actor=ACTOR, now=now,
                    allowed_cidrs=LOOPBACK if careful else (),
                    expires_in=timedelta(days=60) if careful else None,
                )  # fmt: skip
                self.tokens[name] = issued.token

    def scope_of(self, name: str) -> list[int]:
        return self.scopes.get(self.processor_ids[name], [])
