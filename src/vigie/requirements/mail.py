"""Messages to a processor's contact about its requirements, in French, through the
existing e-mail channel (:class:`vigie.breach.channels.SmtpChannel`).

Two messages: a campaign (the new requirements, their deadlines and consequences, how
to attest and acknowledge) and a warning (what is not met yet, before or after the
deadline). Plain text and a minimal HTML alternative, every value escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import escape

from vigie.breach.channels import Outgoing
from vigie.requirements.models import RequirementVersion
from vigie.requirements.standing import Standing

CONSEQUENCES_FR = {
    "warn": "avertissement",
    "refuse_new_keys": "refus de toute nouvelle clé d'API",
    "reduce_budget": "réduction de vos budgets d'accès",
    "suspend": "suspension de vos accès",
}


@dataclass(frozen=True)
class RequirementsMessage(Outgoing):
    """An e-mail about requirements; ``incident_id`` holds the campaign id (0 for a
    warning) and ``subject_id`` the processor id: no person is concerned."""

    topic: str = "campaign"

    @property
    def key(self) -> str:
        return f"requirements-{self.topic}-{self.incident_id}-{self.subject_id}"


def _html(lines: Sequence[str]) -> str:
    body = "".join(f"<p>{escape(line)}</p>" if line else "" for line in lines)
    return f'<!DOCTYPE html><html lang="fr"><body>{body}</body></html>'


def campaign_message(
    *, campaign_id: int, label: str, processor_id: int, legal_name: str, to: str,
    requirements: Sequence[RequirementVersion], controller: str,
) -> RequirementsMessage:  # fmt: skip
    """The campaign's message to one processor."""
    lines = [
        f"Madame, Monsieur, à l'attention de {legal_name},",
        "",
        f"{controller} relève les exigences de sécurité applicables à ses sous-traitants "
        f"(campagne n° {campaign_id} : {label}). Les exigences suivantes s'appliquent à vous :",
        "",
    ]
    for req in requirements:
        lines.append(
            f"- {req.requirement} (version {req.version}) : {req.text_fr} — échéance le "
            f"{req.deadline:%d/%m/%Y} ; à défaut : {CONSEQUENCES_FR[req.consequence]}."
        )
    lines += [
        "",
        "Les exigences attestées se déclarent par l'API (POST /api/v1/attestations), avec une "
        "déclaration signée et un justificatif PDF. Merci d'accuser réception de cette "
        f"campagne : POST /api/v1/campaigns/{campaign_id}/acknowledgement.",
        "",
        f"Le délégué à la protection des données de {controller}",
    ]
    return RequirementsMessage(
        incident_id=campaign_id,
        subject_id=processor_id,
        channel="email",
        to=to,
        languages=("fr",),
        subject=f"Nouvelles exigences de sécurité — campagne n° {campaign_id}",
        text="\n".join(lines) + "\n",
        html=_html(lines),
        topic="campaign",
    )


def warning_message(
    *, processor_id: int, legal_name: str, to: str, rows: Sequence[Standing], controller: str,
    serial: int,
) -> RequirementsMessage:  # fmt: skip
    """A warning listing the requirements ``rows`` the processor does not meet."""
    lines = [
        f"Madame, Monsieur, à l'attention de {legal_name},",
        "",
        f"Vous ne satisfaites pas encore les exigences suivantes de {controller} :",
        "",
    ]
    for r in rows:
        when = "échéance dépassée" if r.phase == "overdue" else "échéance le"
        lines.append(
            f"- {r.requirement} (version {r.version}) : {r.text_fr} — {when} {r.deadline} ; "
            f"à défaut : {CONSEQUENCES_FR[r.consequence]}. Constat : {'; '.join(r.reasons)}."
        )
    lines += ["", f"Le délégué à la protection des données de {controller}"]
    return RequirementsMessage(
        incident_id=serial,
        subject_id=processor_id,
        channel="email",
        to=to,
        languages=("fr",),
        subject="Exigences de sécurité non satisfaites",
        text="\n".join(lines) + "\n",
        html=_html(lines),
        topic="warning",
    )
