"""The registry's population context: what being in it reveals, and who its people are.

A leak of names and phone numbers means little for a sports club and a great deal for
the file of an immigration office: being *in* the file says something about a person.
The EDPB (Guidelines 01/2021) and ENISA's severity method both weigh that context, and
the vulnerability of the people concerned. Vigie cannot guess it from the fields, so the
controller declares it, once, in a small YAML file::

    membership_reveals: recent immigration to France through the integration contract (CIR)
    vulnerable: true
    vulnerable_why: refugees and asylum seekers among them; relatives abroad can be targeted
    special_categories_inferable: []

It is declared beside the people it describes (table ``registry_populations``, one row
per declaration, the newest is in force), each declaration is an audit event
(``registry:population``), and the risk assessment of every incident reads it
(:mod:`vigie.breach.risk`). Until one is declared, a risk assessment refuses to run:
guessing the context is how a leak gets under-rated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigie.audit import trail
from vigie.audit.actions import Action
from vigie.errors import ConfigError, InvalidInput
from vigie.registry.models import RegistryPopulation
from vigie.store.base import utcnow

# GDPR Art. 9(1) special categories, and Art. 10 (criminal convictions and offences).
SPECIAL_CATEGORIES: tuple[str, ...] = (
    "racial or ethnic origin",
    "political opinions",
    "religious or philosophical beliefs",
    "trade union membership",
    "genetic data",
    "biometric data",
    "health",
    "sex life or sexual orientation",
    "criminal convictions and offences",
)
MAX_FILE_BYTES = 64_000
MAX_TEXT = 500
DECLARE_HINT = "declare it with `vigie subjects population FILE.yaml` (docs/breach.md)"


class PopulationContext(BaseModel):
    """What membership of the registry reveals about a person, and whether its people are
    vulnerable. Pure data: the risk assessment weighs it (:mod:`vigie.breach.risk`)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    membership_reveals: str | None = None
    vulnerable: bool
    vulnerable_why: str | None = None
    special_categories_inferable: tuple[str, ...] = ()

    @field_validator("membership_reveals", "vulnerable_why")
    @classmethod
    def _text(cls, v: str | None) -> str | None:
        if v is not None and len(v) > MAX_TEXT:
            raise ValueError(f"must be at most {MAX_TEXT} characters")
        return v or None

    @field_validator("special_categories_inferable")
    @classmethod
    def _categories(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [c for c in v if c not in SPECIAL_CATEGORIES]
        if unknown:
            raise ValueError(
                f"{', '.join(map(repr, unknown))} is not a special category; use one of "
                + ", ".join(SPECIAL_CATEGORIES)
            )
        return tuple(sorted(set(v)))

    @model_validator(mode="after")
    def _why(self) -> PopulationContext:
        if self.vulnerable and not self.vulnerable_why:
            raise ValueError("vulnerable_why: say who is vulnerable and why (it is shown)")
        if not self.vulnerable and self.vulnerable_why:
            raise ValueError("vulnerable_why: given, but vulnerable is false")
        return self

    @property
    def sensitive_membership(self) -> bool:
        """Whether being in the registry reveals something sensitive about a person."""
        return bool(self.membership_reveals or self.special_categories_inferable)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (no personal data: it describes the registry)."""
        return self.model_dump(mode="json")


@dataclass(frozen=True)
class DeclaredPopulation:
    """A declaration in force: the context, and when, by whom, under which audit event."""

    id: int
    context: PopulationContext
    declared_at: datetime
    actor: str
    audit_seq: int


def parse_population(text: str, *, source: str) -> PopulationContext:
    """A population context from YAML text; a clear error says where and why."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{source}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{source}: a population context is a mapping (see docs/breach.md)")
    try:
        return PopulationContext.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'file'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInput(f"{source}: {problems}") from None


def load_population(path: Path) -> PopulationContext:
    """Read and check the population context file at ``path``."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InvalidInput(f"{path} is larger than {MAX_FILE_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text") from None
    return parse_population(text, source=str(path))


def current_population(session: Session) -> DeclaredPopulation | None:
    """The declaration in force (the newest), or None when none was ever made."""
    row = session.scalars(
        select(RegistryPopulation).order_by(RegistryPopulation.id.desc()).limit(1)
    ).first()
    return None if row is None else _declared(row)


def _declared(row: RegistryPopulation) -> DeclaredPopulation:
    context = PopulationContext(
        membership_reveals=row.membership_reveals,
        vulnerable=row.vulnerable,
        vulnerable_why=row.vulnerable_why,
        special_categories_inferable=tuple(row.special_categories),
    )
    return DeclaredPopulation(
        id=row.id,
        context=context,
        declared_at=row.declared_at,
        actor=row.actor,
        audit_seq=row.audit_seq,
    )


def require_population(session: Session) -> DeclaredPopulation:
    """The declaration in force; raises :class:`ConfigError` when there is none."""
    declared = current_population(session)
    if declared is None:
        raise ConfigError(
            "the registry's population context is not declared (what being in it reveals, "
            f"whether its people are vulnerable), so its risk cannot be assessed: {DECLARE_HINT}"
        )
    return declared


def declare_population(
    session: Session, *, context: PopulationContext, actor: str
) -> tuple[DeclaredPopulation, bool]:
    """Put ``context`` in force, audited (``registry:population``), in the caller's unit of
    work. Declaring what is already in force changes nothing and audits nothing.

    Returns the declaration in force and whether it changed.
    """
    previous = current_population(session)
    if previous is not None and previous.context == context:
        return previous, False
    seq = trail.append(
        session,
        action=Action.REGISTRY_POPULATION,
        actor=actor,
        detail={
            "previous": previous.id if previous else None,
            **context.as_dict(),
        },
    )
    row = RegistryPopulation(
        declared_at=utcnow(),
        actor=actor,
        membership_reveals=context.membership_reveals,
        vulnerable=context.vulnerable,
        vulnerable_why=context.vulnerable_why,
        special_categories=list(context.special_categories_inferable),
        audit_seq=seq,
    )
    session.add(row)
    session.flush()
    return _declared(row), True
