"""Vigie's exceptions.

Every error Vigie raises on purpose derives from :class:`VigieError`, so the CLI and the
API can turn it into one clear message (CLI: one line, exit code 1; API: an RFC 9457
problem document) instead of a traceback.

    VigieError
    ├── ConfigError        settings or instance secrets missing, placeholder or unsafe
    ├── NotFound           the thing asked for does not exist (or is out of scope)
    ├── InvalidInput       a file, a row, a request or an argument is malformed
    │   └── ImportRejected     an import with bad rows; carries every problem found
    ├── Unauthenticated    no API key, or a key that is unknown or malformed (HTTP 401)
    ├── Denied             policy refuses: suspension, revoked/expired key, IP, budget, rate
    │   └── BudgetExceeded     a distinct-people or request-rate budget is spent
    ├── AuditFailure       the audit trail could not record an event (fail closed)
    └── IntegrityError     the audit trail or a checkpoint does not verify
"""

from __future__ import annotations


class VigieError(Exception):
    """Base of every error Vigie raises on purpose."""


class ConfigError(VigieError):
    """Settings or instance secrets are missing, placeholder or unsafe."""


class NotFound(VigieError):
    """The object asked for does not exist, or is outside the caller's scope."""


class InvalidInput(VigieError):
    """A file, row, request or argument is malformed."""


class ImportRejected(InvalidInput):
    """An import found bad rows; nothing was written.

    ``problems`` lists ``(line, field, reason)`` for every bad row.
    """

    def __init__(self, problems: list[tuple[int, str, str]]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} bad row(s); nothing imported")


class Unauthenticated(VigieError):
    """No API key, or one that is unknown or malformed."""


class Denied(VigieError):
    """Policy refuses the request; ``reason`` says why in words safe to show."""


class BudgetExceeded(Denied):
    """A budget (distinct people or request rate) is spent; retry after ``retry_after`` s."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class AuditFailure(VigieError):
    """The audit trail could not record an event, so nothing was disclosed."""


class IntegrityError(VigieError):
    """The audit trail or a checkpoint fails verification."""
