"""The public service's rate limits: they hold, fail closed, and cost no thread per hit."""

from __future__ import annotations

import pytest

from vigie.public.limiter import Limiter, LimiterDown, RateLimited, SweptMemoryStorage, storage_for


def test_the_limits_hold_per_address_and_overall() -> None:
    limiter = Limiter(storage_uri="memory://", per_address="3/minute", overall="5/minute")
    for _ in range(3):
        limiter.request("verify", address="192.0.2.1")
    with pytest.raises(RateLimited) as refused:
        limiter.request("verify", address="192.0.2.1")
    assert refused.value.retry_after >= 1
    limiter.request("verify", address="192.0.2.2")  # another address: its own count
    limiter.request("self-check", address="192.0.2.1")  # another endpoint: counted apart
    with pytest.raises(RateLimited):  # the address's refused hit was counted overall
        limiter.request("verify", address="192.0.2.3")


def test_a_store_that_does_not_answer_refuses() -> None:
    limiter = Limiter(storage_uri="redis://127.0.0.1:9", per_address="3/minute", overall="5/second")
    with pytest.raises(LimiterDown):
        limiter.request("verify", address="192.0.2.1")


def test_memory_is_the_swept_storage_and_other_stores_are_limits_own() -> None:
    assert isinstance(storage_for("memory://"), SweptMemoryStorage)
    assert not isinstance(storage_for("redis://127.0.0.1:9"), SweptMemoryStorage)


def test_the_memory_storage_starts_no_thread_per_hit() -> None:
    storage = SweptMemoryStorage(sweep_seconds=3600)
    limiter = Limiter(
        storage_uri="memory://", per_address="1000/minute", overall="1000/minute", storage=storage
    )
    limiter.request("verify", address="192.0.2.1")
    first = storage.timer
    first.join()  # the sweep ran: limits' own storage would start a new timer on the next hit
    for _ in range(200):
        limiter.request("verify", address="192.0.2.1")
    assert storage.timer is first  # one sweep an hour here: no new timer thread
    hits = limiter._limiter.get_window_stats(limiter.per_address, "address", "verify", "192.0.2.1")
    assert hits.remaining == 1000 - 201
