"""Every Prometheus metric Vigie exports, and the ``/metrics`` exposition.

Labels name code-defined things only — a listener, a route *template*
(``/api/v1/subjects/{pseudonym}``, never the path asked for), a status, a processor's
name, a detector, a channel — never a person, a pseudonym or a value. The metric
objects are module-level, as prometheus-client wants: its values live in the
process (one worker) or, when ``PROMETHEUS_MULTIPROC_DIR`` is set **before** Python
imports prometheus-client, in memory-mapped files in that directory, one set per
worker process, that :func:`exposition` merges at each scrape. ``vigie serve`` sets it
for its workers (see :mod:`vigie.ops.multiproc`).

Recording is cheap (a lock and an add, a few µs in multiprocess mode); the callers on
the gateway's hot path record once per request.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.multiprocess import MultiProcessCollector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
APPEND_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.0)
UNMATCHED = "<unmatched>"
"""The route label of a request no route matched (its path is never a label)."""

# --- every listener (vigie.http) -----------------------------------------------------------
REQUESTS = Counter(
    "vigie_http_requests",
    "HTTP requests answered, by listener, route template, method and status.",
    ("listener", "route", "method", "status"),
)
LATENCY = Histogram(
    "vigie_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by listener and route template.",
    ("listener", "route"),
    buckets=LATENCY_BUCKETS,
)

# --- the processor API (vigie.gateway) ------------------------------------------------------
DISCLOSURES = Counter(
    "vigie_gateway_disclosures",
    "Requests that disclosed or recorded something, by processor and kind (read/list/write).",
    ("processor", "kind"),
)
PEOPLE_DISCLOSED = Counter(
    "vigie_gateway_people_disclosed",
    "People sent in answers (a person sent twice counts twice), by processor.",
    ("processor",),
)
PEOPLE_NEWLY_COUNTED = Counter(
    "vigie_gateway_distinct_people",
    "People newly counted against a processor's daily budget: over a day, the distinct "
    "people disclosed to it.",
    ("processor",),
)
BUDGET_USED = Gauge(
    "vigie_gateway_budget_used_ratio",
    "Share of the processor's budget of distinct people used (the higher of the day's and "
    "the 30 days'), as of its last request.",
    ("processor",),
    multiprocess_mode="mostrecent",
)
DENIALS = Counter(
    "vigie_gateway_denials",
    "Requests refused, by processor (empty when the key is unknown), status and problem "
    "type (429 budget or rate, 403 suspended or not allowed, 401, 404...).",
    ("processor", "status", "problem"),
)

# --- detection -----------------------------------------------------------------------------
DETECTOR_FIRINGS = Counter(
    "vigie_detection_alerts",
    "Alerts raised, by detector, severity and the containment applied.",
    ("detector", "severity", "containment"),
)
SUSPENSIONS = Counter(
    "vigie_detection_suspensions",
    "Keys or processors suspended by containment, by what was suspended (key, processor).",
    ("target",),
)

# --- the audit trail -----------------------------------------------------------------------
AUDIT_APPEND = Histogram(
    "vigie_audit_append_seconds",
    "Time to append a batch of events to the audit trail (chain, Merkle frontier, index).",
    buckets=APPEND_BUCKETS,
)
AUDIT_APPEND_FAILURES = Counter(
    "vigie_audit_append_failures",
    "Appends to the audit trail that failed (the request was refused, nothing was sent).",
)
CHECKPOINT_TIME = Gauge(
    "vigie_audit_last_checkpoint_timestamp_seconds",
    "Unix time of the latest signed checkpoint, as last seen by this instance.",
    multiprocess_mode="max",
)
UNANCHORED = Gauge(
    "vigie_audit_unanchored_events",
    "Events after the latest signed checkpoint (the backlog the next checkpoint anchors).",
    multiprocess_mode="mostrecent",
)
AUDIT_INTEGRATED = Counter(
    "vigie_audit_integrated_events",
    "Committed events the sequencer moved onto the chain (from audit_pending).",
)
AUDIT_INTEGRATE = Histogram(
    "vigie_audit_integrate_seconds",
    "Time the sequencer took to integrate one batch of pending events.",
    buckets=APPEND_BUCKETS,
)
AUDIT_INTEGRATION_DELAY = Histogram(
    "vigie_audit_integration_delay_seconds",
    "Integration lag: from an event's commit (its time) to its integration, for the oldest "
    "event of each batch the sequencer integrates (the worst of the batch).",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
AUDIT_PENDING = Gauge(
    "vigie_audit_pending_events",
    "Committed events not yet on the chain, as the active sequencer last saw them.",
    multiprocess_mode="mostrecent",
)
AUDIT_PENDING_AGE = Gauge(
    "vigie_audit_pending_age_seconds",
    "How long the oldest pending event has waited for the sequencer (0: none waits).",
    multiprocess_mode="mostrecent",
)
SEQUENCER_ACTIVE = Gauge(
    "vigie_audit_sequencer_active",
    "1 in the process whose sequencer holds the election, 0 elsewhere.",
    multiprocess_mode="max",
)
SEQUENCER_EPOCH = Gauge(
    "vigie_audit_sequencer_epoch",
    "Fencing token (epoch) of the sequencer lease this instance last took.",
    multiprocess_mode="max",
)
SEQUENCER_TAKEOVERS = Counter(
    "vigie_audit_sequencer_takeovers",
    "Times a sequencer of this instance took the seat (a rise elsewhere than at start: a "
    "sequencer died or was paused past its lease).",
)

# --- notices to the people concerned ---------------------------------------------------------
NOTICE_DELIVERIES = Counter(
    "vigie_notice_deliveries",
    "Notices handed to a channel, by channel (email, sms, letter) and outcome (sent, "
    "bounced, failed, no_contact).",
    ("channel", "status"),
)


# --- background jobs (vigie.jobs sets these; the "queue stuck" alert reads them) ------------
JOBS_PENDING = Gauge(
    "vigie_jobs_pending",
    "Jobs waiting or running, by kind, as last counted by a worker.",
    ("kind",),
    multiprocess_mode="mostrecent",
)
JOBS_FINISHED = Counter(
    "vigie_jobs_finished",
    "Jobs that ended, by kind and outcome (done, failed).",
    ("kind", "outcome"),
)


@lru_cache(maxsize=4096)
def child(metric: Any, *labels: str) -> Any:
    """``metric.labels(*labels)``, looked up once: the hot path pays a dict look-up, not
    prometheus-client's label validation and lock."""
    return metric.labels(*labels)


def multiprocess() -> bool:
    """Whether this process keeps its values in ``PROMETHEUS_MULTIPROC_DIR``.

    prometheus-client decides once, when it is first imported: a directory named later
    does not change this process (only the workers it starts).
    """
    return values.ValueClass is not values.MutexValue


def exposition() -> tuple[bytes, str]:
    """The metrics of every worker in Prometheus' text format, and its content type."""
    if multiprocess():
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
