"""A local SMTP sink for the demo: a real SMTP server on loopback writing a maildir."""

from __future__ import annotations

import mailbox
from pathlib import Path
from types import TracebackType

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox

from vigie.detection.loopback import free_port


class MailSink:
    """``with MailSink(dir) as sink``: an SMTP server on ``127.0.0.1:sink.port``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self._controller = Controller(Mailbox(directory), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> MailSink:
        self._controller.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._controller.stop()

    @property
    def count(self) -> int:
        """Messages received so far."""
        return len(mailbox.Maildir(str(self.directory), create=False))
