"""Helpers of the leak tests: the world the fixtures build, and writing leaked files."""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unidecode import unidecode

from vigie.registry.models import Subject


@dataclass
class World:
    """The registry and who received what."""

    people: dict[int, Subject]  # id -> current record
    processors: dict[str, int]  # name -> id
    received: dict[str, set[int]]  # name -> people received
    fields: dict[str, list[str]]  # name -> fields received
    canaries: set[int]
    masks: dict[str, dict[str, str]]  # name -> field -> mask

    def real_received(self, name: str) -> list[int]:
        return sorted(self.received[name] - self.canaries)


def french_phone(e164: str | None) -> str:
    """+33612345678 -> 06 12 34 56 78 (as a leak would show it)."""
    if not e164:
        return ""
    if e164.startswith("+33") and len(e164) == 12:
        d = "0" + e164[3:]
        return " ".join(d[i : i + 2] for i in range(0, 10, 2))
    return e164


def value(person: Subject, field: str, style: str = "plain") -> str:
    v: Any = getattr(person, field)
    if v is None:
        return ""
    if field == "birth_date" and style == "masked":
        return str(v.year)
    if field in {"birth_date", "entry_date", "cir_signed_on"}:
        return v.strftime("%d/%m/%Y") if style == "french" else v.isoformat()
    if field == "phone" and style == "french":
        return french_phone(v)
    if field == "postal_code" and style == "masked":
        return str(v)[:2]
    return str(v)


HEADERS_FR = {
    "ref": "num_dossier", "given_name": "Prénom", "family_name": "Nom", "birth_date": "date_naiss",
    "email": "courriel", "phone": "tel", "nationality": "nationalite", "postal_code": "CP",
    "city": "Ville", "residence_reason": "motif_sejour", "residence_status": "statut",
    "preferred_language": "langue", "sex": "sexe", "cir_signed_on": "date_cir",
    "course_level": "niveau", "course_hours": "heures", "pseudonym": "id",
    "entry_date": "date_entree", "address_line": "adresse",
}  # fmt: skip


def write_csv(
    path: Path,
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    delimiter: str = ";",
    encoding: str = "utf-8",
) -> Path:
    with path.open("w", encoding=encoding, newline="", errors="strict") as f:
        w = csv.writer(f, delimiter=delimiter)
        w.writerow(header)
        w.writerows(rows)
    return path


def invented_rows(n: int, fields: Sequence[str], seed: int) -> list[list[str]]:
    """Plausible rows of people who do not exist."""
    rng = random.Random(seed)
    given = [
        "Zorglub",
        "Kestrel",
        "Ombeline",
        "Quillon",
        "Yzolde",
        "Bartok",
        "Felinor",
        "Gaspardin",
    ]
    family = ["Vernadsky-Ploum", "Ostrowiak", "Dufresnoy", "Talamasca", "Quenderby", "Mirabole"]
    out = []
    for i in range(n):
        g, f = rng.choice(given), rng.choice(family)
        day, month, year = rng.randint(1, 28), rng.randint(1, 12), rng.randint(1950, 2004)
        digits = " ".join(str(rng.randint(10, 99)) for _ in range(4))
        made = {
            "given_name": g,
            "family_name": f,
            "birth_date": f"{day:02d}/{month:02d}/{year}",
            "email": f"{g.lower()}.{f.lower()}{i}{seed}@nowhere.invalid",
            "phone": f"06 {digits}",
            "postal_code": f"{rng.randint(10, 95)}{rng.randint(100, 999)}",
            "ref": f"XX{rng.randint(10**8, 10**9)}",
        }
        row = [made.get(field, "") for field in fields]
        out.append(row)
    return out


def leak_rows(
    world: World,
    processor: str,
    ids: Sequence[int],
    fields: Sequence[str],
    *,
    style: str = "french",
    strip_accents: bool = False,
) -> list[list[str]]:
    """Rows as ``processor`` received them (its masks applied), written in ``style``."""
    masks = world.masks.get(processor, {})
    out = []
    for i in ids:
        person = world.people[i]
        row = []
        for f in fields:
            v = value(person, f, "masked" if f in masks else style)
            if strip_accents and f in {"given_name", "family_name", "city"}:
                v = unidecode(v).upper()
            row.append(v)
        out.append(row)
    return out
