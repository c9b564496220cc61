"""The attack simulator: what a thief with a provider's stolen key(s) would do, over HTTP.

Strategies (``vigie attack --strategy``):

``bulk``
    Walk the whole scope with the largest pages, as fast as the server answers.
``sweep``
    Walk the scope methodically: pages of 50, one every 3 s.
``multikey``
    ``bulk`` spread round-robin over several keys of the same processor; a key that is
    refused is dropped and the walk goes on with the others.
``probe``
    Guess pseudonyms (random 26-character strings), one every 0.5 s.
``drip``
    Stay under the daily budget: pages of 50 every 5 minutes from 08:00 UTC until the
    budget refuses, then wait for the next day; up to ``max_days``.
``mimic``
    Look like the provider: working days 08:30–17:30 UTC, pages of 20 every 2–6 minutes,
    at most ``per_day`` people a day; up to ``max_days``. Still tries to take everyone.

Every strategy waits out a ``429`` (``Retry-After``) and stops when refused for good
(``401``/``403``: the key or the processor is suspended) or when it has the whole scope.
The report says how many distinct people it obtained, in how many requests, whether and
when it was stopped, and how many look-ups failed.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from vigie.detection.pacing import DrivenPacer, Pacer
from vigie.errors import InvalidInput

STRATEGIES = ("bulk", "drip", "sweep", "multikey", "probe", "mimic")
_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_LAST = "aeimquy4"  # a pseudonym's last character: its two padding bits are zero
DAY_SPENT = 600  # a Retry-After longer than this means "come back tomorrow"


@dataclass(frozen=True)
class AttackConfig:
    """Knobs of a simulated attack."""

    strategy: str
    page_size: int = 100
    max_days: int = 30
    max_requests: int = 100_000
    per_day: int = 60  # mimic: people a day
    seed: int = 7


@dataclass
class AttackReport:
    """What the attacker got before it was stopped."""

    strategy: str
    started_at: datetime
    requests: int = 0
    failed_lookups: int = 0
    throttled: int = 0
    stopped: bool = False
    stop_status: int | None = None
    stop_reason: str | None = None
    stopped_at: datetime | None = None
    ended_at: datetime | None = None
    finished_scope: bool = False
    pseudonyms: set[str] = field(default_factory=set, repr=False)
    people_by_day: dict[str, int] = field(default_factory=dict)

    @property
    def people(self) -> int:
        """Distinct people obtained."""
        return len(self.pseudonyms)

    def as_dict(self) -> dict[str, Any]:
        """JSON form (counts and times; no pseudonym)."""
        end = self.stopped_at or self.ended_at or self.started_at
        return {
            "strategy": self.strategy,
            "people": self.people,
            "requests": self.requests,
            "failed_lookups": self.failed_lookups,
            "throttled": self.throttled,
            "stopped": self.stopped,
            "stop_status": self.stop_status,
            "stop_reason": self.stop_reason,
            "started_at": self.started_at.isoformat(),
            "stopped_at": self.stopped_at.isoformat() if self.stopped_at else None,
            "elapsed_seconds": round((end - self.started_at).total_seconds(), 1),
            "finished_scope": self.finished_scope,
            "people_by_day": self.people_by_day,
        }


class _Stopped(Exception):
    """Every key is refused for good."""


class Attacker:
    """Runs one strategy against the processor API at ``client``'s base URL."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        tokens: Sequence[str],
        config: AttackConfig,
        pacer: Pacer,
    ) -> None:
        if config.strategy not in STRATEGIES:
            raise InvalidInput(f"strategy must be one of {', '.join(STRATEGIES)}")
        if not tokens:
            raise InvalidInput("at least one --key is needed")
        if config.strategy == "multikey" and len(tokens) < 2:
            raise InvalidInput("multikey needs several keys: repeat --key")
        self.client = client
        self.live = list(tokens)
        self.config = config
        self.pacer = pacer
        self.rng = random.Random(config.seed)
        self.report = AttackReport(strategy=config.strategy, started_at=pacer.now())
        self._turn = 0
        self._deadline = self.report.started_at + timedelta(days=config.max_days)

    # -- one request ---------------------------------------------------------------
    def _token(self) -> str:
        token = self.live[self._turn % len(self.live)]
        self._turn += 1
        return token

    def _get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response | None:
        """One request; None after a 429 was waited out (the caller retries)."""
        if self.report.requests >= self.config.max_requests or self.pacer.now() >= self._deadline:
            raise _Stopped
        token = self._token()
        response = self.client.get(
            path, params=params, headers={"Authorization": f"Bearer {token}"}
        )
        self.report.requests += 1
        if isinstance(self.pacer, DrivenPacer):
            self.pacer.sleep(self.pacer.request_seconds)
        if response.status_code in (401, 403):
            self.live.remove(token)
            if not self.live:
                self.report.stopped = True
                self.report.stop_status = response.status_code
                self.report.stop_reason = _detail(response)
                self.report.stopped_at = self.pacer.now()
                raise _Stopped
            return None
        if response.status_code == 429:
            self.report.throttled += 1
            wait = float(response.headers.get("Retry-After", "60"))
            if wait > DAY_SPENT:
                self._sleep_until_next_day(hour=8)
            else:
                self.pacer.sleep(wait)
            return None
        return response

    def _take(self, records: list[dict[str, Any]]) -> None:
        day = self.pacer.now().date().isoformat()
        before = len(self.report.pseudonyms)
        self.report.pseudonyms.update(r["pseudonym"] for r in records if "pseudonym" in r)
        gained = len(self.report.pseudonyms) - before
        self.report.people_by_day[day] = self.report.people_by_day.get(day, 0) + gained

    def _sleep_until_next_day(self, *, hour: int, minute: int = 0) -> None:
        now = self.pacer.now()
        nxt = (now + timedelta(days=1)).replace(hour=hour, minute=minute, second=0, microsecond=0)
        self.pacer.sleep((nxt - now).total_seconds())

    # -- strategies ----------------------------------------------------------------
    def run(self) -> AttackReport:
        """Attack until stopped, done, or out of time; return the report."""
        try:
            if self.config.strategy == "probe":
                self._probe()
            else:
                self._walk()
        except _Stopped:
            pass
        self.report.ended_at = self.pacer.now()
        return self.report

    def _walk(self) -> None:
        strategy = self.config.strategy
        size = {"sweep": 50, "drip": 50, "mimic": 20}.get(strategy, self.config.page_size)
        cursor: str | None = None
        taken_today, today = 0, self.pacer.now().date()
        while True:
            if strategy == "mimic":
                if self.pacer.now().date() != today:
                    taken_today, today = 0, self.pacer.now().date()
                if not _office_hours(self.pacer.now()) or taken_today >= self.config.per_day:
                    self._sleep_until_office()
                    continue
            params: dict[str, Any] = {"limit": size}
            if cursor:
                params["cursor"] = cursor
            response = self._get("/api/v1/subjects", params)
            if response is None:
                continue
            if response.status_code != 200:
                raise _Stopped
            page = response.json()
            self._take(page["data"])
            taken_today += len(page["data"])
            cursor = page.get("next_cursor")
            if not cursor:
                self.report.finished_scope = True
                raise _Stopped
            if strategy == "sweep":
                self.pacer.sleep(3)
            elif strategy == "drip":
                self.pacer.sleep(300)
                if self.pacer.now().hour >= 18:
                    self._sleep_until_next_day(hour=8)
            elif strategy == "mimic":
                self.pacer.sleep(self.rng.uniform(120, 360))

    def _sleep_until_office(self) -> None:
        now = self.pacer.now()
        start = now.replace(hour=8, minute=30, second=0, microsecond=0)
        if now < start and now.weekday() < 5:
            self.pacer.sleep((start - now).total_seconds())
            return
        nxt = start + timedelta(days=1)
        while nxt.weekday() >= 5:
            nxt += timedelta(days=1)
        self.pacer.sleep((nxt - now).total_seconds() + self.rng.uniform(0, 1800))

    def _probe(self) -> None:
        while True:
            # Spelt as the API spells pseudonyms (docs/api.md), as an attacker who read
            # the docs would: a misspelt guess gets a 400, not the 404 this counts.
            guess = "".join(self.rng.choice(_ALPHABET) for _ in range(25))
            guess += self.rng.choice(_LAST)
            response = self._get(f"/api/v1/subjects/{guess}")
            if response is None:
                continue
            if response.status_code == 404:
                self.report.failed_lookups += 1
            elif response.status_code == 200:
                self._take([response.json()])
            self.pacer.sleep(0.5)


def _office_hours(at: datetime) -> bool:
    minutes = at.hour * 60 + at.minute
    return at.weekday() < 5 and 8 * 60 + 30 <= minutes < 17 * 60 + 30


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    return str(body.get("detail") or body.get("title") or response.status_code)[:200]


def run_attack(
    *,
    url: str,
    tokens: Sequence[str],
    config: AttackConfig,
    pacer: Pacer,
    transport: httpx.BaseTransport | None = None,
) -> AttackReport:
    """Attack the processor API at ``url`` with ``tokens``; return what it got."""
    with httpx.Client(base_url=url, timeout=30.0, transport=transport) as client:
        return Attacker(client, tokens=tokens, config=config, pacer=pacer).run()
