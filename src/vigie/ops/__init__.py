"""Operations: metrics, probes and logs without personal data; backup, restore, retention.

:mod:`vigie.ops.metrics` defines every Prometheus metric (multiprocess-safe across
``vigie serve`` workers) and renders them; :mod:`vigie.ops.logs` formats log records as
JSON lines holding only whitelisted keys, so that no person can reach a log line;
:mod:`vigie.ops.backup`, :mod:`vigie.ops.restore` and :mod:`vigie.ops.retention` keep and
prune what an instance holds.
"""
