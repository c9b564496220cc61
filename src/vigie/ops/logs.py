"""JSON log lines that cannot carry a person: whitelisted keys, no formatted values.

Every record, from Vigie or from a library, goes through :class:`JsonFormatter`, which
writes one JSON object per line built **only** from:

- ``ts``, ``level``, ``logger``;
- ``event``: the record's message *template* (``"audit checkpoint failed: %s"``), with
  each argument replaced by its value only when it is a number, a boolean, ``None`` or a
  :class:`Code` (a string the code chose: a class name, a problem slug, a check name);
  any other argument — a name, an address, a URL, a row — becomes ``‹redacted›``. A
  message that is not a string is replaced by its type's name; a library's message
  without arguments (which it may have formatted itself) by its first word;
- the extra keys of :data:`FIELDS` (request id, listener, route template, status,
  latency, processor name...) when their value is a number, a boolean or a string;
  anything else passed in ``extra`` is dropped;
- ``request_id``: the id of the request being served (:data:`REQUEST_ID`);
- for an exception: ``error`` (its class) and ``trace`` (file, line and function of each
  frame) — never the exception's text nor any local variable: an error raised with a
  value in its message (a parse error quoting a cell, a database error quoting a row)
  cannot reach the log.

So personal data is kept out by construction, not by a pattern that would have to
recognise it. Vigie's own calls never build messages with f-strings or ``%`` (ruff's
``G`` rules fail the lint), so the template is always code.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import traceback
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import orjson

from vigie.settings import Settings

REQUEST_ID: ContextVar[str | None] = ContextVar("vigie_request_id", default=None)
"""The id of the request being served in this context (None outside a request)."""
REDACTED = "‹redacted›"
FIELDS = frozenset(
    {
        "listener",
        "method",
        "route",
        "status",
        "duration_ms",
        "processor",
        "check",
        "kind",
        "count",
    }
)
"""The only ``extra`` keys a log line may carry; each holds a code-chosen word or a number."""
_OURS = "_vigie_handler"
OWN_LOGGERS = frozenset({"vigie", "uvicorn"})
"""Loggers whose messages are always templates written in code (Vigie's own: ruff's G
rules; uvicorn's); another library's message without arguments is cut to its first word."""
_FIRST_WORD = re.compile(r"[A-Za-z_][\w.:-]*")


class Code(str):
    """A string chosen by the code, never by data (a class name, a slug): logs print it."""

    __slots__ = ()


_SAFE = (int, float, bool, type(None), Code)


def _safe(value: object) -> object:
    if isinstance(value, _SAFE):
        return value
    return REDACTED


def event_of(record: logging.LogRecord) -> str:
    """The record's message template, with only its safe arguments filled in."""
    template = record.msg if isinstance(record.msg, str) else type(record.msg).__name__
    args = record.args
    if not args:
        if record.name.partition(".")[0] in OWN_LOGGERS:
            return template
        # A library's message without arguments may be one it formatted itself (httpcore
        # writes request and response heads so): only its first word is sure to be code.
        word = _FIRST_WORD.match(template)
        return word.group(0) if word else REDACTED
    try:
        if isinstance(args, Mapping):
            return template % {k: _safe(v) for k, v in args.items()}
        return template % tuple(_safe(a) for a in args)
    except (TypeError, ValueError, KeyError):
        return template  # e.g. "%d" given a redacted string: the template alone


def _trace(exc_info: Any) -> list[str]:
    _, _, tb = exc_info
    return [f"{f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(tb)]


def _timestamp(created: float) -> str:
    """ISO 8601 UTC with milliseconds (``2026-03-02T12:00:00.123Z``), cheaply."""
    seconds = int(created)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + (
        f".{int((created - seconds) * 1000):03d}Z"
    )


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line of whitelisted keys (see the module's docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "event": event_of(record),
        }
        request = REQUEST_ID.get()
        if request is not None:
            out["request_id"] = request
        for key in FIELDS:
            value = record.__dict__.get(key)
            if isinstance(value, int | float | str) and value is not None:
                out[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            out["error"] = record.exc_info[0].__qualname__
            out["trace"] = _trace(record.exc_info)
        return orjson.dumps(out).decode()


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of each record."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def level_of(settings: Settings, *, serving: bool) -> str:
    """``log_level``, else ``INFO`` for a server (its access lines), ``WARNING`` for a command."""
    return settings.log_level or ("INFO" if serving else "WARNING")


def dict_config(settings: Settings) -> dict[str, Any]:
    """The :func:`logging.config.dictConfig` of ``settings``: JSON lines on standard error
    (and ``log_file``), uvicorn's own loggers included (``uvicorn.run(log_config=...)``)."""
    handlers: dict[str, Any] = {"stderr": {"()": StderrHandler, "formatter": "json"}}
    if settings.log_file is not None:
        handlers["file"] = {
            "class": "logging.FileHandler",
            "filename": str(Path(settings.log_file)),
            "formatter": "json",
            "encoding": "utf-8",
        }
    own = {"handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": handlers,
        "root": {"level": level_of(settings, serving=True), "handlers": list(handlers)},
        "loggers": {name: dict(own) for name in ("uvicorn", "uvicorn.error", "uvicorn.access")},
    }


def configure(settings: Settings, *, serving: bool = False) -> None:
    """Send every log record of this process through :class:`JsonFormatter`.

    Replaces the handlers an earlier call added, leaves the others (a test harness's) and
    the library loggers' own levels alone.
    """
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(handler)
        handler.close()
    handlers: list[logging.Handler] = [StderrHandler()]
    if settings.log_file is not None:
        handlers.append(logging.FileHandler(settings.log_file, encoding="utf-8"))
    for handler in handlers:
        handler.setFormatter(JsonFormatter())
        setattr(handler, _OURS, True)
        root.addHandler(handler)
    root.setLevel(level_of(settings, serving=serving))
