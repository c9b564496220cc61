"""The requirements file: its schema, and validation with the place of each problem.

``vigie requirements apply FILE.yaml`` reads a file like this (docs/requirements.md is
the full reference)::

    baseline: "2027-03: after the CIR leak"
    requirements:
      - id: key-allow-list
        version: 1
        kind: enforced
        check: key-allow-list
        text:
          fr: "Chaque clé d'API est limitée à une liste d'adresses IP."
          en: "Every API key is restricted to an IP allow-list."
        deadline: 2027-03-01
        consequence: refuse_new_keys
        clauses: ["Art. 28(3)(c) GDPR", "Security annex §4"]

Problems that need the database (an id reused with another meaning, a version changed
in place, a deadline in the past) are found by :func:`vigie.requirements.apply.plan`,
with the same ``path: reason (line N)`` form.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from vigie.processors.spec import (
    Handle,
    SpecRejected,
    Text,
    nearest_line,
    read_text,
    read_yaml,
    validation_problems,
)
from vigie.requirements.catalogue import CONSEQUENCES, KINDS, known_checks, parameter_problems

MAX_TEXT = 2000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Wording(_Strict):
    """The requirement's text in French (binding) and English."""

    fr: Annotated[Text, StringConstraints(max_length=MAX_TEXT)]
    en: Annotated[Text, StringConstraints(max_length=MAX_TEXT)]


class RequirementSpec(_Strict):
    """One requirement at one version."""

    id: Handle
    version: int = Field(gt=0, le=1_000_000)
    kind: str
    check: Handle
    text: Wording
    parameters: dict[str, Any] = Field(default_factory=dict)
    deadline: date
    consequence: str
    reduce_budget_to: float | None = Field(default=None, gt=0, lt=1)
    clauses: list[Annotated[Text, StringConstraints(max_length=200)]] = Field(default_factory=list)

    def content(self) -> dict[str, Any]:
        """Everything that defines this version, as plain JSON values."""
        return {
            "id": self.id,
            "version": self.version,
            "kind": self.kind,
            "check": self.check,
            "text": {"fr": self.text.fr, "en": self.text.en},
            "parameters": self.parameters,
            "deadline": self.deadline.isoformat(),
            "consequence": self.consequence,
            "reduce_budget_to": self.reduce_budget_to,
            "clauses": list(self.clauses),
        }


def content_sha256(content: dict[str, Any]) -> str:
    """SHA-256 of a version's content as canonical JSON (sorted keys, no spaces, UTF-8).

    Recorded in the version's audit event, so a dossier quoting the text proves it."""
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class RequirementsFile(_Strict):
    """The whole file: a label for the baseline and its requirements."""

    baseline: Annotated[Text, StringConstraints(max_length=100)]
    requirements: list[RequirementSpec] = Field(min_length=1)


@dataclass(frozen=True)
class Parsed:
    """A valid file, with where each path sits in it (for the problems found later)."""

    spec: RequirementsFile
    lines: dict[str, int]
    source: str
    sha256: str

    def line(self, path: str) -> int | None:
        return nearest_line(self.lines, path)


def _semantic(spec: RequirementsFile) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()
    for i, req in enumerate(spec.requirements):
        at = f"requirements[{i}]"
        if req.id in seen:
            problems.append((f"{at}.id", f"requirement {req.id!r} is listed twice"))
        seen.add(req.id)
        if req.kind not in KINDS:
            problems.append(
                (f"{at}.kind", f"unknown kind {req.kind!r} (known: {', '.join(KINDS)})")
            )
            continue
        checks = known_checks(req.kind)
        if req.check not in checks:
            problems.append(
                (
                    f"{at}.check",
                    f"unknown {req.kind} check {req.check!r} (known: {', '.join(checks)})",
                )
            )
        else:
            try:
                json.dumps(req.parameters, allow_nan=False)
            except (TypeError, ValueError):
                problems.append((f"{at}.parameters", "plain values only (quote dates)"))
            for reason in parameter_problems(req.kind, req.check, req.parameters):
                problems.append((f"{at}.parameters", reason))
        if req.consequence not in CONSEQUENCES:
            known = ", ".join(CONSEQUENCES)
            problems.append(
                (f"{at}.consequence", f"unknown consequence {req.consequence!r} (known: {known})")
            )
        if (req.consequence == "reduce_budget") != (req.reduce_budget_to is not None):
            problems.append(
                (f"{at}.reduce_budget_to", "required with consequence reduce_budget, and only then")
            )
    return problems


def parse_requirements(text: str, *, source: str = "<requirements file>") -> Parsed:
    """Validate the YAML ``text``; :class:`SpecRejected` lists every problem."""
    data, lines = read_yaml(text, source=source)
    if not isinstance(data, dict):
        raise SpecRejected(
            source, [("", "expected a mapping with 'baseline' and 'requirements'", 1)]
        )
    try:
        spec = RequirementsFile.model_validate(data)
    except ValidationError as exc:
        raise SpecRejected(source, validation_problems(exc, lines)) from None
    if problems := _semantic(spec):
        raise SpecRejected(source, [(p, r, nearest_line(lines, p)) for p, r in problems])
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return Parsed(spec=spec, lines=lines, source=source, sha256=digest)


def load_requirements(path: Path) -> Parsed:
    """Read and validate the requirements file at ``path``."""
    return parse_requirements(read_text(path), source=str(path))
