"""What the attacker takes away: every record the API sent it, captured on the wire.

The demo's attacker is the real attack simulator talking real HTTP to the gateway; this
transport keeps a copy of each person record in the responses it receives, as a thief's
script would, so that step 4 can "post" exactly what was stolen.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import httpx

# How a dump seller would head the columns (French, abbreviated), by API field.
FRENCH_HEADERS = {
    "pseudonym": "id",
    "ref": "num_dossier",
    "given_name": "prenom",
    "family_name": "nom",
    "given_name_native": "prenom_origine",
    "family_name_native": "nom_origine",
    "birth_date": "date_naiss",
    "sex": "sexe",
    "birth_country": "pays_naiss",
    "nationality": "nationalite",
    "preferred_language": "langue",
    "email": "courriel",
    "phone": "tel",
    "address_line": "adresse",
    "postal_code": "cp",
    "city": "ville",
    "region": "region",
    "entry_date": "date_entree",
    "residence_reason": "motif_sejour",
    "residence_status": "statut_sejour",
    "cir_signed_on": "date_cir",
    "course_hours": "heures_cours",
    "course_level": "niveau",
}


class RecordingTransport(httpx.HTTPTransport):
    """An HTTP transport that keeps every person record of every successful response."""

    def __init__(self) -> None:
        super().__init__()
        self.records: dict[str, dict[str, Any]] = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.method == "GET" and response.status_code == 200:
            response.read()
            body = response.json()
            items = body.get("data", [body]) if isinstance(body, dict) else []
            for item in items:
                if isinstance(item, dict) and "pseudonym" in item:
                    self.records[item["pseudonym"]] = item
        return response


def write_dump(records: list[dict[str, Any]], path: Path) -> int:
    """Write ``records`` as a seller would post them: semicolons, French headers, BOM."""
    fields = [f for f in FRENCH_HEADERS if any(r.get(f) is not None for r in records)]
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow([FRENCH_HEADERS[f] for f in fields])
        for record in records:
            writer.writerow(["" if record.get(f) is None else record[f] for f in fields])
    return len(records)
