"""The JSON formatter keeps only whitelisted keys and never formats a value into a line."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import orjson
import pytest

from vigie.ops.logs import REDACTED, REQUEST_ID, Code, JsonFormatter, configure, level_of
from vigie.settings import Settings

PERSON = "Amina Diallo <amina.diallo@mail.example> +33612345678 CIR00000042"


def _record(name: str, msg: object, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord(name, logging.INFO, __file__, 1, msg, args or None, None)
    record.__dict__.update(extra)
    return record


def _line(record: logging.LogRecord) -> dict[str, object]:
    return orjson.loads(JsonFormatter().format(record))


@pytest.mark.parametrize(
    ("msg", "args", "event"),
    [
        ("checkpoint failed: %s", (PERSON,), f"checkpoint failed: {REDACTED}"),
        (
            "checkpoint failed: %s",
            (Code("OperationalError"),),
            "checkpoint failed: OperationalError",
        ),
        ("%d rows in %.1f s", (12, 0.5), "12 rows in 0.5 s"),
        ("%d rows", (PERSON,), "%d rows"),  # a format that fails: the template alone
        ("%(who)s asked", {"who": PERSON}, f"{REDACTED} asked"),
        ("plain", (), "plain"),
    ],
)
def test_only_safe_arguments_are_formatted(msg: str, args: object, event: str) -> None:
    wrapped = (args,) if isinstance(args, dict) else args  # as logging.info(msg, mapping)
    record = logging.LogRecord("vigie.x", logging.INFO, __file__, 1, msg, wrapped or None, None)  # type: ignore[arg-type]
    assert _line(record)["event"] == event


def test_a_message_that_is_not_a_string_gives_its_type() -> None:
    assert _line(_record("vigie.x", ValueError(PERSON)))["event"] == "ValueError"


def test_a_librarys_preformatted_message_is_cut_to_its_first_word() -> None:
    got = _line(_record("httpcore.http11", f"send_request_headers.started request={PERSON}"))
    assert got["event"] == "send_request_headers.started"
    assert _line(_record("mail.log", f"<{PERSON}>"))["event"] == REDACTED
    assert _line(_record("vigie.gateway", "kept whole, our own template"))["event"] == (
        "kept whole, our own template"
    )


def test_only_whitelisted_extra_keys_and_only_scalars() -> None:
    line = _line(
        _record(
            "vigie.access",
            "request",
            route="/api/v1/subjects/{pseudonym}",
            status=200,
            duration_ms=1.5,
            processor="lingua-idf",
            path="/api/v1/subjects/u5i2mmybhvptruah2pv6s7zf7u",
            email="amina.diallo@mail.example",
            kind={"given_name": "Amina"},
        )
    )
    assert line["route"] == "/api/v1/subjects/{pseudonym}" and line["status"] == 200
    assert line["processor"] == "lingua-idf" and line["duration_ms"] == 1.5
    assert "path" not in line and "email" not in line and "kind" not in line


def test_exceptions_give_their_class_and_frames_never_their_text() -> None:
    try:
        raise ValueError(PERSON)
    except ValueError:
        record = logging.LogRecord(
            "vigie.x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info()
        )
    line = _line(record)
    assert line["error"] == "ValueError"
    assert isinstance(line["trace"], list) and "test_logs.py" in line["trace"][0]
    assert "Amina" not in orjson.dumps(line).decode()


def test_the_request_id_of_the_context_is_on_every_line() -> None:
    token = REQUEST_ID.set("3f2a9c1e0b4d4e5f")
    try:
        assert _line(_record("vigie.x", "inside"))["request_id"] == "3f2a9c1e0b4d4e5f"
    finally:
        REQUEST_ID.reset(token)
    assert "request_id" not in _line(_record("vigie.x", "outside"))


def test_configure_writes_json_lines_to_the_file_and_replaces_itself(tmp_path: Path) -> None:
    root = logging.getLogger()
    level, before = root.level, list(root.handlers)
    try:
        configure(Settings(log_level="DEBUG", log_file=tmp_path / "a.log"))
        configure(Settings(log_level="DEBUG", log_file=tmp_path / "b.log"))
        logging.getLogger("vigie.test").debug("hello %s", PERSON)
        assert not (tmp_path / "a.log").read_text()
        (line,) = (tmp_path / "b.log").read_text().splitlines()
        assert orjson.loads(line)["event"] == f"hello {REDACTED}"
        ours = [h for h in root.handlers if getattr(h, "_vigie_handler", False)]
        assert len(ours) == 2  # stderr and the file, once
    finally:
        for handler in root.handlers[:]:
            if handler not in before:
                root.removeHandler(handler)
                handler.close()
        root.setLevel(level)


def test_servers_log_access_lines_by_default_commands_only_warnings() -> None:
    assert level_of(Settings(), serving=True) == "INFO"
    assert level_of(Settings(), serving=False) == "WARNING"
    assert level_of(Settings(log_level="DEBUG"), serving=False) == "DEBUG"
