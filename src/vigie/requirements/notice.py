"""The draft formal notice (*mise en demeure*) of a dossier, in French, as Markdown.

A draft for the controller's lawyers: it cites the contracts (their references), each
requirement breached at the time of the incident with its binding French text, its
clauses and what was found, and the audit events that prove it. It is not sent by Vigie.
"""

from __future__ import annotations

from typing import Any


def _fr_date(iso: str | None) -> str:
    """``2026-12-06…`` as ``06/12/2026``."""
    if not iso:
        return "—"
    year, month, day = iso[:10].split("-")
    return f"{day}/{month}/{year}"


def _signature(dpo: str | None) -> str:
    title = "Le délégué à la protection des données"
    if not dpo or dpo.strip().lower().startswith("délégué"):
        return title
    return f"{title}, {dpo}"


def formal_notice(content: dict[str, Any]) -> str:
    """The draft, from a dossier's content."""
    p = content["processor"]
    controller = content["controller"]
    incident = content["incident"]
    refs = ", ".join(c["reference"] for c in content["contracts"]) or "—"
    lines = [
        "# Projet de mise en demeure",
        "",
        f"**De** : {controller['name']}, responsable du traitement.",
        f"**À** : {p['legal_name']} (SIREN {p['siren']}), sous-traitant au sens de l'article "
        "28 du RGPD.",
        f"**Objet** : manquements à vos obligations contractuelles de sécurité (contrats "
        f"{refs}) — incident n° {incident['id']}.",
        "",
        "Madame, Monsieur,",
        "",
        f"Le {_fr_date(incident['aware_at'])}, nous avons eu connaissance de l'incident "
        f"« {incident['title']} ». Les éléments joints, vérifiables hors ligne par leurs "
        "signatures et leurs preuves d'inclusion dans notre journal d'audit, établissent "
        "qu'à cette date vous ne respectiez pas les exigences suivantes :",
        "",
    ]
    breached = content["breached"]
    if not breached:
        lines.append("- (aucune exigence échue non respectée à la date de l'incident)")
    for b in breached:
        clauses = f" ({', '.join(b['clauses'])})" if b["clauses"] else ""
        lines.append(
            f"- **{b['id']}** (version {b['version']}, échéance {_fr_date(b['deadline'])})"
            f"{clauses} : "
            f"« {b['text_fr']} » — constat : {'; '.join(b['reasons']) or 'non justifié'}."
        )
    duty = content["processor_duty"]
    informed = duty["informed_controller_at"]
    lines += [
        "",
        "Au titre de l'article 33(2) du RGPD, vous deviez nous notifier toute violation dans "
        "les meilleurs délais après en avoir pris connaissance. "
        + (
            f"Vous nous avez informés le {_fr_date(informed)}."
            if informed
            else "À ce jour, nous n'avons reçu aucune notification de votre part."
        ),
        "",
        "En conséquence, nous vous mettons en demeure, dans un délai de quinze jours à "
        "compter de la réception de la présente :",
        "",
        "1. de vous conformer à chacune des exigences ci-dessus et d'en justifier ;",
        "2. de nous remettre un rapport complet sur l'incident et les mesures prises ;",
        "3. de nous confirmer par écrit le sort des données concernées (article 28(3)(g)).",
        "",
        "À défaut, nous nous réservons le droit de mettre en œuvre les sanctions prévues au "
        "contrat, dont la résiliation, sans préjudice de toute action.",
        "",
        f"Pièces : dossier n° {incident['id']} — {len(content['cited'])} événements du journal "
        "d'audit cités, chacun avec sa preuve d'inclusion.",
        "",
        _signature(controller.get("dpo")),
    ]
    return "\n".join(lines) + "\n"
