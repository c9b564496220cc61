"""Operations: metrics, probes and logs without personal data.

:mod:`vigie.ops.metrics` defines every Prometheus metric (multiprocess-safe across
``vigie serve`` workers) and renders them; :mod:`vigie.ops.logs` formats log records as
JSON lines holding only whitelisted keys, so that no person can reach a log line.
"""
