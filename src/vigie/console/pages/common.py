"""What every signed-in page's template receives."""

from __future__ import annotations

from typing import Any

from vigie.console.guard import Visit
from vigie.console.i18n import N_, Formatter
from vigie.console.roles import GRANTS, Need, Role

NAV = (
    ("/", N_("Overview")),
    ("/processors", N_("Processors")),
    ("/alerts", N_("Alerts")),
    ("/leaks", N_("Leaks")),
    ("/incidents", N_("Incidents")),
    ("/register", N_("Register")),
    ("/requirements", N_("Requirements")),
    ("/audit", N_("Audit")),
)
LANGUAGE_NAMES = (("fr", "Français"), ("en", "English"))
"""The console's languages, each named in itself (the language selector)."""


def context(visit: Visit, *, section: str, title: str, **values: Any) -> dict[str, Any]:
    """The layout's values (operator, language, navigation, CSRF token) and the page's."""
    fmt = visit.fmt
    return {
        "_": fmt.gettext,
        "lang": visit.lang,
        "title": fmt.gettext(title),
        "login": visit.login,
        "role": fmt.gettext(visit.role),
        "csrf": visit.csrf,
        "nav": [(href, fmt.gettext(label), href == section) for href, label in NAV],
        "can_change_processors": Role(visit.role) in GRANTS[Need.PROCESSORS],
        "can_handle_alerts": Role(visit.role) in GRANTS[Need.ALERTS],
        "can_build_dossier": Role(visit.role) in GRANTS[Need.DOSSIER],
        "languages": LANGUAGE_NAMES,
        "back": section,
        "error": None,
        **values,
    }


def public_context(lang: str, *, title: str, **values: Any) -> dict[str, Any]:
    """The values of a page seen before sign-in is complete (no navigation)."""
    fmt = Formatter(lang)
    return {
        "_": fmt.gettext,
        "lang": lang,
        "title": fmt.gettext(title),
        "login": None,
        "role": None,
        "csrf": values.pop("csrf", None),
        "nav": [],
        "can_change_processors": False,
        "can_handle_alerts": False,
        "can_build_dossier": False,
        "error": None,
        **values,
    }
