"""Channels that carry notices: e-mail (SMTP), SMS (provider interface), postal letters.

Every channel implements :class:`Channel`. ``deliver`` is given a ``commit`` callback
and must call it at its *point of no return* — immediately before the one action after
which the notice counts as delivered (the SMTP end-of-data dot, the outbox append, the
rename of a letter into place). The delivery log commits ``sent`` there, so a process
killed before that point leaves the notice ``sending`` (never handed over: sent again on
the next run), and a process killed after it has handed the notice over. The window
between the two is one local commit and one system call.

Failures: :class:`Bounced` (permanent: the address is refused) and
:class:`DeliveryFailed` (temporary: retried on the next run).
"""

from __future__ import annotations

import contextlib
import json
import os
import smtplib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate
from pathlib import Path
from typing import Any, Protocol

from vigie.breach import letters
from vigie.breach.fonts import PreparedFonts, prepare
from vigie.settings import Settings


class Bounced(Exception):
    """The notice was refused for good (unknown address, rejected number)."""


class DeliveryFailed(Exception):
    """The notice could not be handed over now; the next run retries it."""


@dataclass(frozen=True)
class Outgoing:
    """One notice ready to leave: who, where, what."""

    incident_id: int
    subject_id: int
    channel: str
    to: str  # e-mail address, phone number (E.164) or postal address
    languages: tuple[str, ...]
    subject: str = ""
    text: str = ""
    html: str = ""

    @property
    def key(self) -> str:
        """A stable identifier of this notice (Message-ID, outbox id, file name)."""
        return f"notice-{self.incident_id}-{self.subject_id}-{self.channel}"


class Channel(Protocol):
    """A way to hand a notice over."""

    name: str

    def deliver(self, message: Outgoing, *, commit: Callable[[], None]) -> None:
        """Hand ``message`` over, calling ``commit()`` at the point of no return."""

    def close(self) -> None:
        """Release connections and flush batches."""


_STRIP_ISOLATES = str.maketrans("", "", "\u2066\u2067\u2068\u2069")


class SmtpChannel:
    """E-mail over SMTP; one connection reused for the whole batch."""

    name = "email"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        mail_from: str,
        user: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.host, self.port, self.mail_from = host, port, mail_from
        self.user, self.password, self.timeout = user, password, timeout
        self._smtp: smtplib.SMTP | None = None

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            try:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
                smtp.ehlo()
                if smtp.has_extn("starttls"):
                    smtp.starttls()
                    smtp.ehlo()
                if self.user and self.password:
                    smtp.login(self.user, self.password)
            except (OSError, smtplib.SMTPException) as exc:
                raise DeliveryFailed(f"SMTP server {self.host}:{self.port}: {exc}") from None
            self._smtp = smtp
        return self._smtp

    def build(self, message: Outgoing) -> EmailMessage:
        """The MIME message of a notice (text and HTML alternatives)."""
        mail = EmailMessage(policy=SMTP)
        mail["From"] = self.mail_from
        mail["To"] = message.to
        mail["Subject"] = message.subject.translate(_STRIP_ISOLATES)
        mail["Date"] = formatdate(usegmt=True)
        domain = self.mail_from.rpartition("@")[2] or "vigie.invalid"
        mail["Message-ID"] = f"<{message.key}@{domain}>"
        mail.set_content(message.text)
        mail.add_alternative(message.html, subtype="html")
        mail["Content-Language"] = ", ".join(message.languages)  # set_content drops Content-*
        return mail

    def deliver(self, message: Outgoing, *, commit: Callable[[], None]) -> None:
        smtp = self._connection()
        payload = self.build(message).as_bytes()
        try:
            code, _resp = smtp.mail(self.mail_from)
            if code != 250:
                raise DeliveryFailed(f"MAIL FROM refused: {code}")
            code, _resp = smtp.rcpt(message.to)
            if code >= 500:
                smtp.rset()
                raise Bounced(f"recipient refused: {code}")
            if code not in (250, 251):
                smtp.rset()
                raise DeliveryFailed(f"recipient deferred: {code}")
            smtp.putcmd("data")
            code, _resp = smtp.getreply()
            if code != 354:
                smtp.rset()
                raise DeliveryFailed(f"DATA refused: {code}")
            smtp.send(_dot_stuff(payload))
            try:
                commit()  # point of no return: the end-of-data dot follows
            except BaseException:
                self._drop()  # the server discards a message without its dot
                raise
            smtp.send(b".\r\n")
            code, _resp = smtp.getreply()
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            raise DeliveryFailed(f"SMTP: {exc}") from None
        if code >= 500:
            raise Bounced(f"message refused: {code}")
        if code != 250:
            raise DeliveryFailed(f"message deferred: {code}")

    def _drop(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.close()
            finally:
                self._smtp = None

    def close(self) -> None:
        if self._smtp is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._smtp.quit()
            self._drop()


def _dot_stuff(payload: bytes) -> bytes:
    """The message body as SMTP DATA wants it, without the final dot."""
    lines = payload.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    body = b"\r\n".join(b"." + line if line.startswith(b".") else line for line in lines)
    return body if body.endswith(b"\r\n") else body + b"\r\n"


class SmsProvider(Protocol):
    """Something that sends one SMS (an operator's API); raises Bounced/DeliveryFailed."""

    def send(self, *, to: str, text: str, key: str, commit: Callable[[], None]) -> None:
        """Send ``text`` to ``to``; call ``commit()`` right before handing it over."""


class OutboxSmsProvider:
    """The default SMS provider: appends each message to an outbox file (JSON lines).

    A gateway to a real SMS operator reads the outbox; one line is one SMS, written
    with a single ``write`` so a crash never leaves half a line.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def send(self, *, to: str, text: str, key: str, commit: Callable[[], None]) -> None:
        line = json.dumps({"id": key, "to": to, "text": text}, ensure_ascii=False) + "\n"
        data = line.encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            commit()
            os.write(fd, data)
        finally:
            os.close(fd)


class SmsChannel:
    """SMS notices through a :class:`SmsProvider`."""

    name = "sms"

    def __init__(self, provider: SmsProvider) -> None:
        self.provider = provider

    def deliver(self, message: Outgoing, *, commit: Callable[[], None]) -> None:
        self.provider.send(to=message.to, text=message.text, key=message.key, commit=commit)

    def close(self) -> None:
        pass


@dataclass
class LetterChannel:
    """Postal letters: one PDF per person, and merged PDFs of ``batch_size`` for the printer."""

    directory: Path
    prepared: PreparedFonts
    batch_size: int = 200
    name: str = "letter"
    batches: list[Path] = field(default_factory=list)
    _pending: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        # A letter fully written but not yet renamed when a run was killed: its log row
        # may already say ``sent``, so put it in place (a resend overwrites the same name).
        for tmp in self.directory.glob("notice-*.tmp"):
            tmp.replace(tmp.with_suffix(".pdf"))

    def deliver(self, message: Outgoing, *, commit: Callable[[], None]) -> None:
        document = letters.render_document(
            message.html, languages=message.languages, prepared=self.prepared
        )
        target = self.directory / f"{message.key}.pdf"
        tmp = target.with_suffix(".tmp")
        document.write_pdf(tmp)
        commit()
        tmp.replace(target)
        self._pending.append(document)
        if len(self._pending) >= self.batch_size:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        name = f"batch-{len(self.batches) + 1:04d}-{os.getpid()}.pdf"
        self.batches.append(letters.merge(self._pending, self.directory / name))
        self._pending.clear()

    def close(self) -> None:
        self._flush()


def channel_names(choice: str) -> Sequence[str]:
    """The channels a ``--channel`` choice means (``all``: every channel, in order)."""
    if choice == "all":
        return ("email", "sms", "letter")
    if choice in ("email", "sms", "letter"):
        return (choice,)
    raise ValueError(f"unknown channel {choice!r}")


def outbox_dir(settings: Settings) -> Path:
    """Where SMS outboxes and letters go."""
    return settings.notice_outbox_dir or settings.data_dir / "outbox"


def from_settings(
    settings: Settings, *, names: Sequence[str], incident_id: int
) -> dict[str, Channel]:
    """The configured channels among ``names``: SMTP e-mail, outbox SMS, PDF letters."""
    out: dict[str, Channel] = {}
    base = outbox_dir(settings)
    for name in names:
        if name == "email":
            out[name] = SmtpChannel(
                host=settings.smtp_host,
                port=settings.smtp_port,
                mail_from=settings.mail_from,
                user=settings.smtp_user,
                password=(
                    settings.smtp_password.get_secret_value() if settings.smtp_password else None
                ),
            )
        elif name == "sms":
            provider = OutboxSmsProvider(base / f"sms-incident-{incident_id}.jsonl")
            out[name] = SmsChannel(provider)
        else:
            prepared = prepare(settings.data_dir / "cache" / "fonts")
            out[name] = LetterChannel(base / f"letters-incident-{incident_id}", prepared)
    return out
