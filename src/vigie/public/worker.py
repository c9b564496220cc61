"""Self-checks run off the request path, so that every answer takes the same time.

The page hands the normalised contact to :meth:`SelfCheckWorker.submit`, which only puts
it on a bounded queue and returns: the request does the same work whether the contact is
in the registry or not. One thread per process takes requests from the queue, looks the
contact up and sends (:func:`vigie.public.selfcheck.answer`). A full queue refuses every
request alike (:class:`Busy`, 503). Nothing here logs a contact.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from vigie.breach.channels import Channel
from vigie.errors import VigieError
from vigie.public.contacts import Contact
from vigie.public.limiter import Limiter
from vigie.public.selfcheck import Composer, answer
from vigie.secrets import InstanceSecrets

log = logging.getLogger(__name__)


class Busy(VigieError):
    """Too many self-checks are waiting: try again later (the same for every contact)."""


class SelfCheckWorker:
    """A bounded queue of self-checks and the thread that answers them."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        composer: Composer,
        channels: Callable[[], Mapping[str, Channel]],
        limiter: Limiter,
        secrets: InstanceSecrets,
        now: Callable[[], datetime],
        capacity: int,
    ) -> None:
        self._sessions = sessions
        self._composer = composer
        self._channels = channels
        self._limiter = limiter
        self._secrets = secrets
        self._now = now
        self._queue: queue.Queue[Contact | None] = queue.Queue(maxsize=capacity)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, contact: Contact) -> None:
        """Queue a self-check for ``contact``; :class:`Busy` when the queue is full."""
        if self._thread is None:
            self._start()
        try:
            self._queue.put_nowait(contact)
        except queue.Full:
            raise Busy("too many requests are waiting") from None

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="vigie-self-check", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        channels: Mapping[str, Channel] | None = None
        while True:
            contact = self._queue.get()
            try:
                if contact is None:
                    return
                if channels is None:
                    channels = self._channels()
                with self._sessions() as session:
                    answer(
                        session,
                        contact=contact,
                        composer=self._composer,
                        channels=channels,
                        limiter=self._limiter,
                        secrets=self._secrets,
                        now=self._now,
                    )
            except Exception as exc:  # one failed self-check must not stop the others
                log.error("self-check failed: %s", type(exc).__name__)
            finally:
                if contact is not None and self._queue.empty() and channels is not None:
                    for channel in channels.values():
                        channel.close()  # no idle SMTP connection between bursts
                self._queue.task_done()

    def drain(self) -> None:
        """Wait until every queued self-check is answered."""
        self._queue.join()

    def close(self) -> None:
        """Answer what is queued, then stop the thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
