"""The processors file: its schema, and validation with the path (and line) of each problem.

``vigie processors apply FILE.yaml`` reads a file like this (docs/processors.md is the
full reference)::

    processors:
      - name: lingua-idf
        legal_name: "Lingua Île-de-France Formation SAS"
        siren: "732100003"
        contact_email: dpo@lingua-idf.example
        security_officer: "Claire Martin"
        security_contact_247: "+33 1 00 00 00 00 (SOC, 24/7)"
        region: "11"
        contracts:
          - name: cir-language-2024
            purpose: language-training
            legal_basis: "GDPR Art. 6(1)(e): public task"
            reference: "OFII-CIR-LANG-2024-11"
            valid_from: 2024-01-01
            valid_to: 2027-12-31
            read_fields: [pseudonym, given_name, birth_date]
            masks: {birth_date: year}
            write_fields: [attendance_hours]
            budget: {per_day: 500, per_30_days: 6000}
            expected_per_day: 150
            rate_per_minute: 120

Every problem found is reported at once, as ``processors[2].contracts[0].masks.birth_date:
unknown mask 'yeer' (line 14)``, and nothing is applied.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from vigie.errors import InvalidInput
from vigie.policy.masks import check_mask
from vigie.policy.view import PSEUDONYM, READABLE_FIELDS
from vigie.policy.writeback import WRITE_FIELDS
from vigie.registry.models import SUBJECT_FIELDS

MAX_FILE_BYTES = 5_000_000
MAX_DEPTH = 16  # the file needs 5 levels
LIBYAML_TOO_DEEP = "exceeded maximum nesting depth"
MAX_COUNT = 1_000_000_000  # budgets and rates fit a 32-bit column on every database
READ_ORDER = (PSEUDONYM, *SUBJECT_FIELDS)


def _printable(value: str) -> str:
    if not value.isprintable():
        raise ValueError("contains control characters")
    return value


Handle = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1), AfterValidator(_printable)
]


# libyaml's parser and composer (PyYAML's C binding) where PyYAML was built with it: the
# same safe constructor, about ten times less CPU than the pure-Python parser.
try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]


class _Loader(_SafeLoader):
    """Safe loader that leaves an impossible date (``2024-13-01``) as text for pydantic."""

    def construct_yaml_timestamp(self, node: yaml.Node) -> Any:
        try:
            return super().construct_yaml_timestamp(node)  # type: ignore[arg-type]
        except ValueError:
            return self.construct_scalar(node)  # type: ignore[arg-type]


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


class SpecRejected(InvalidInput):
    """A file applied as code (processors, requirements) has problems; nothing was applied.

    ``problems`` lists ``(path, reason, line)`` for each, ``line`` being ``None`` when
    the place cannot be found in the file.
    """

    def __init__(self, source: str, problems: list[tuple[str, str, int | None]]) -> None:
        self.source = source
        self.problems = problems
        first = format_problem(*problems[0]) if problems else "invalid"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{source}: {first}{more}; nothing applied")


def format_problem(path: str, reason: str, line: int | None) -> str:
    """``path: reason (line N)``."""
    where = f" (line {line})" if line is not None else ""
    return f"{path}: {reason}{where}" if path else f"{reason}{where}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BudgetSpec(_Strict):
    """Distinct people a contract may disclose per UTC day and per 30 days."""

    per_day: int = Field(gt=0, le=MAX_COUNT)
    per_30_days: int = Field(gt=0, le=MAX_COUNT)


class ContractSpec(_Strict):
    """One Art. 28 contract of a processor."""

    name: Handle
    purpose: Annotated[Text, StringConstraints(max_length=100)]
    legal_basis: Annotated[Text, StringConstraints(max_length=200)]
    reference: Annotated[Text, StringConstraints(max_length=100)]
    valid_from: date
    valid_to: date | None = None
    read_fields: list[str] = Field(min_length=1)
    masks: dict[str, str] = Field(default_factory=dict)
    write_fields: list[str] = Field(default_factory=list)
    budget: BudgetSpec
    expected_per_day: int | None = Field(default=None, gt=0, le=MAX_COUNT)
    rate_per_minute: int = Field(gt=0, le=MAX_COUNT)

    @field_validator("masks", mode="before")
    @classmethod
    def _no_masks(cls, value: Any) -> Any:
        return {} if value is None else value  # an empty `masks:` key reads as null

    @field_validator("write_fields", mode="before")
    @classmethod
    def _no_write_fields(cls, value: Any) -> Any:
        return [] if value is None else value

    @property
    def canonical_read_fields(self) -> list[str]:
        """The read fields in the registry's order (``pseudonym`` first), without repeats."""
        return [f for f in READ_ORDER if f in self.read_fields]

    @property
    def canonical_write_fields(self) -> list[str]:
        return sorted(set(self.write_fields))

    @property
    def canonical_masks(self) -> dict[str, str]:
        return dict(sorted(self.masks.items()))


class ProcessorSpec(_Strict):
    """One processor and its contracts."""

    name: Handle
    legal_name: Annotated[Text, StringConstraints(max_length=200)]
    siren: Annotated[str, StringConstraints(pattern=r"^\d{9}$")]
    contact_email: Annotated[
        str,
        StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254),
        AfterValidator(_printable),
    ]
    security_officer: Annotated[Text, StringConstraints(max_length=200)]
    security_contact_247: Annotated[Text, StringConstraints(max_length=200)] | None = None
    region: Annotated[str, StringConstraints(pattern=r"^\d{2,3}$")] | None = None
    statement_key: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] | None = None
    contracts: list[ContractSpec] = Field(default_factory=list)

    @field_validator("contracts", mode="before")
    @classmethod
    def _no_contracts(cls, value: Any) -> Any:
        return [] if value is None else value


class ProcessorsFile(_Strict):
    """The whole file: a list of processors."""

    processors: list[ProcessorSpec]


def luhn_ok(digits: str) -> bool:
    """Whether a SIREN's digits pass the Luhn check."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if part == "[key]":  # pydantic's marker for a bad mapping key
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _lines(
    node: yaml.Node, loc: tuple[int | str, ...], out: dict[str, int], dups: list[Any]
) -> None:
    out[_path(loc)] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            if name in seen:
                dups.append((_path((*loc, name)), "duplicate key", key.start_mark.line + 1))
            seen.add(name)
            out[_path((*loc, name))] = key.start_mark.line + 1
            _lines(value, (*loc, name), out, dups)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _lines(item, (*loc, i), out, dups)


def _semantic(spec: ProcessorsFile) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    names: set[str] = set()
    for i, proc in enumerate(spec.processors):
        at = f"processors[{i}]"
        if proc.name in names:
            problems.append((f"{at}.name", f"processor {proc.name!r} is listed twice"))
        names.add(proc.name)
        if not luhn_ok(proc.siren):
            problems.append((f"{at}.siren", "not a valid SIREN (Luhn check fails)"))
        contract_names: set[str] = set()
        for j, con in enumerate(proc.contracts):
            cat = f"{at}.contracts[{j}]"
            if con.name in contract_names:
                problems.append((f"{cat}.name", f"contract {con.name!r} is listed twice"))
            contract_names.add(con.name)
            if con.valid_to is not None and con.valid_to < con.valid_from:
                problems.append((f"{cat}.valid_to", "ends before valid_from"))
            for k, field in enumerate(con.read_fields):
                if field not in READABLE_FIELDS:
                    problems.append((f"{cat}.read_fields[{k}]", f"unknown field {field!r}"))
            for field, mask in con.masks.items():
                if field not in READABLE_FIELDS:
                    problems.append((f"{cat}.masks.{field}", f"unknown field {field!r}"))
                    continue
                if field not in con.read_fields:
                    problems.append((f"{cat}.masks.{field}", "masks a field not in read_fields"))
                try:
                    check_mask(field, mask)
                except ValueError as exc:
                    problems.append((f"{cat}.masks.{field}", str(exc)))
            for k, field in enumerate(con.write_fields):
                if field not in WRITE_FIELDS:
                    known = ", ".join(sorted(WRITE_FIELDS))
                    problems.append(
                        (f"{cat}.write_fields[{k}]", f"unknown field {field!r} (known: {known})")
                    )
            if con.budget.per_30_days < con.budget.per_day:
                problems.append((f"{cat}.budget.per_30_days", "smaller than per_day"))
            if con.expected_per_day is not None and con.expected_per_day > con.budget.per_day:
                problems.append((f"{cat}.expected_per_day", "larger than budget.per_day"))
    return problems


def read_yaml(text: str, *, source: str) -> tuple[Any, dict[str, int]]:
    """Parse YAML ``text`` safely: ``(data, lines)`` where ``lines`` maps each dotted path
    (``processors[2].contracts[0]``) to its line. Refuses anchors and aliases, nesting
    deeper than ``MAX_DEPTH`` and duplicate keys (:class:`SpecRejected`, with the line).
    Shared by every file Vigie applies as code (processors, requirements)."""
    try:
        # Anchors and aliases are refused: the file does not need them, and a few nested
        # aliases expand into billions of nodes ("billion laughs").
        depth = 0
        for event in yaml.parse(text, Loader=_Loader):
            at = event.start_mark.line + 1 if event.start_mark else None
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise SpecRejected(source, [("", "YAML anchors and aliases are not allowed", at)])
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise SpecRejected(source, [("", f"nested deeper than {MAX_DEPTH}", at)])
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
        # Composed once; the data is constructed from that node, not parsed again.
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            data = None if node is None else loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or "not valid YAML"
        if reason == LIBYAML_TOO_DEEP:  # libyaml scans ahead and stops first, at 1,000 levels
            raise SpecRejected(source, [("", f"nested deeper than {MAX_DEPTH}", line)]) from None
        raise SpecRejected(source, [("", f"not valid YAML: {reason}", line)]) from None
    except RecursionError:
        raise SpecRejected(source, [("", "nested too deeply", None)]) from None
    lines: dict[str, int] = {}
    dups: list[Any] = []
    if node is not None:
        _lines(node, (), lines, dups)
    if dups:
        raise SpecRejected(source, dups)
    return data, lines


def validation_problems(
    exc: ValidationError, lines: dict[str, int]
) -> list[tuple[str, str, int | None]]:
    """pydantic's errors as ``(path, reason, line)``."""
    problems = []
    for err in exc.errors():
        path = _path(tuple(err["loc"]))
        reason = err["msg"]
        if err["type"] == "string_type" and isinstance(err.get("input"), int | float):
            reason += " (put it in quotes: YAML reads it as a number)"
        problems.append((path, reason, nearest_line(lines, path)))
    return problems


def parse_spec(text: str, *, source: str = "<processors file>") -> ProcessorsFile:
    """Validate the YAML ``text``; :class:`SpecRejected` lists every problem."""
    data, lines = read_yaml(text, source=source)
    if not isinstance(data, dict):
        raise SpecRejected(source, [("", "expected a mapping with a 'processors' list", 1)])
    try:
        spec = ProcessorsFile.model_validate(data)
    except ValidationError as exc:
        raise SpecRejected(source, validation_problems(exc, lines)) from None
    semantic = _semantic(spec)
    if semantic:
        raise SpecRejected(
            source, [(path, reason, nearest_line(lines, path)) for path, reason in semantic]
        )
    return spec


def nearest_line(lines: dict[str, int], path: str) -> int | None:
    """The line of ``path`` in the file, or of its nearest parent that has one."""
    while path:
        if path in lines:
            return lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return lines.get("")


def read_text(path: Path) -> str:
    """The UTF-8 text of a file applied as code, refused if unreadable or too large."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    if size > MAX_FILE_BYTES:
        raise InvalidInput(f"{path} is larger than {MAX_FILE_BYTES} bytes")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text") from None
    return text


def load_spec(path: Path) -> ProcessorsFile:
    """Read and validate the processors file at ``path``."""
    return parse_spec(read_text(path), source=str(path))
