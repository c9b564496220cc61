"""What the processor API tells operations about each request it settled.

:func:`served` and :func:`denied` record the gateway's metrics (:mod:`vigie.ops.metrics`)
by processor *name* — never a person — and tag the request with that name for its access
line (:func:`vigie.http.access.tag`). The unit of work calls them after the commit (or the
refusal's own record), so a request rolled back is not counted as served.
"""

from __future__ import annotations

from fastapi import Request

from vigie.errors import VigieError
from vigie.gateway.disclose import Attempt, Disclosure
from vigie.gateway.problems import kind_of
from vigie.http.access import tag
from vigie.ops import metrics


def served(request: Request, attempt: Attempt, result: Disclosure) -> None:
    """A request that disclosed (or recorded) and was committed."""
    name = attempt.processor_name or ""
    tag(request.scope, processor=attempt.processor_name)
    metrics.child(metrics.DISCLOSURES, name, attempt.kind).inc()
    if result.people:
        metrics.child(metrics.PEOPLE_DISCLOSED, name).inc(result.people)
    if result.newly_counted:
        metrics.child(metrics.PEOPLE_NEWLY_COUNTED, name).inc(result.newly_counted)
    if result.budget_used is not None:
        metrics.child(metrics.BUDGET_USED, name).set(result.budget_used)


def denied(request: Request, attempt: Attempt, error: VigieError) -> None:
    """A request refused with ``error`` (401, 403, 404, 429...)."""
    kind = kind_of(error)
    tag(request.scope, processor=attempt.processor_name)
    metrics.DENIALS.labels(attempt.processor_name or "", str(kind.status), kind.slug).inc()
