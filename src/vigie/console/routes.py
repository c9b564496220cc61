"""What every route of the console needs: the one table the guard enforces.

A route missing from :data:`ROUTES` is refused to everyone (fail closed); the tests walk
the app's routes and try each with every role.
"""

from __future__ import annotations

from vigie.console.roles import Need

ROUTES: dict[tuple[str, str], Need] = {
    ("GET", "/login"): Need.PUBLIC,
    ("POST", "/login"): Need.PUBLIC,
    ("GET", "/login/sso"): Need.PUBLIC,
    ("GET", "/login/sso/callback"): Need.PUBLIC,
    ("GET", "/login/second-factor"): Need.SECOND_FACTOR,
    ("POST", "/login/second-factor"): Need.SECOND_FACTOR,
    ("POST", "/login/security-key/options"): Need.SECOND_FACTOR,
    ("POST", "/login/security-key"): Need.SECOND_FACTOR,
    ("POST", "/login/security-key/enrol/options"): Need.SECOND_FACTOR,
    ("POST", "/login/security-key/enrol"): Need.SECOND_FACTOR,
    ("POST", "/logout"): Need.SESSION,
    ("GET", "/account/security-keys"): Need.OWN,
    ("POST", "/account/security-keys/options"): Need.OWN,
    ("POST", "/account/security-keys"): Need.OWN,
    ("POST", "/account/security-keys/{key_id}/remove"): Need.OWN,
    ("GET", "/"): Need.READ,
    ("GET", "/processors"): Need.READ,
    ("GET", "/processors/{name}"): Need.READ,
    ("POST", "/processors/{name}/suspend"): Need.PROCESSORS,
    ("POST", "/processors/{name}/reinstate"): Need.PROCESSORS,
    ("POST", "/processors/{name}/keys"): Need.PROCESSORS,
    ("POST", "/processors/{name}/keys/{key_id}/revoke"): Need.PROCESSORS,
    ("GET", "/alerts"): Need.READ,
    ("POST", "/alerts/{alert_id}/acknowledge"): Need.ALERTS,
    ("POST", "/alerts/{alert_id}/escalate"): Need.ALERTS,
    ("GET", "/leaks"): Need.READ,
    ("POST", "/leaks"): Need.LEAKS,
    ("GET", "/leaks/jobs/{job_id}"): Need.READ,
    ("GET", "/leaks/{analysis_id}"): Need.READ,
    ("POST", "/leaks/{analysis_id}/incident"): Need.LEAKS,
    ("GET", "/audit"): Need.READ,
    ("GET", "/requirements"): Need.READ,
    ("GET", "/requirements/compliance.csv"): Need.READ,
    ("GET", "/requirements/compliance.pdf"): Need.READ,
    ("GET", "/processors/{name}/requirements"): Need.READ,
    ("POST", "/processors/{name}/dossier"): Need.DOSSIER,
    ("GET", "/incidents"): Need.READ,
    ("GET", "/incidents/{incident_id}"): Need.READ,
    ("POST", "/incidents/{incident_id}/assess"): Need.INCIDENTS,
    ("POST", "/incidents/{incident_id}/overrule"): Need.INCIDENTS,
    ("POST", "/incidents/{incident_id}/measures"): Need.CONTAINMENT,
    ("POST", "/incidents/{incident_id}/authority-pack"): Need.INCIDENTS,
    ("GET", "/incidents/{incident_id}/authority-pack/{phase}.{fmt}"): Need.READ,
    ("POST", "/incidents/{incident_id}/notices"): Need.INCIDENTS,
    ("POST", "/incidents/{incident_id}/publish"): Need.INCIDENTS,
    ("POST", "/incidents/{incident_id}/withdraw"): Need.INCIDENTS,
    ("GET", "/register"): Need.READ,
    ("GET", "/register.csv"): Need.READ,
    ("POST", "/preferences/language"): Need.OWN,
    ("POST", "/audit/verify"): Need.AUDIT,
    ("GET", "/audit/verifications/{verification_id}"): Need.READ,
    ("GET", "/audit/proof"): Need.READ,
    ("POST", "/audit/export"): Need.AUDIT,
}
"""(method, path template) → what the route needs."""

STREAMED = frozenset({("POST", "/leaks")})
"""Routes whose body is a file read as a stream (:mod:`vigie.console.upload`): the guard
checks their origin, and their anti-forgery token is checked by the upload's reader
before a byte of the file is kept."""

OWN_SESSION = frozenset({Need.SECOND_FACTOR, Need.SESSION, Need.OWN})
"""Needs of routes that change only the caller's own session or preferences, not the
instance's data."""
