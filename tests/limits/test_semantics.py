"""The same rate-limit semantics from both stores (in memory, and shared through real Redis)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from llmgateway.errors import RateLimitError
from llmgateway.limits import LimitStore, RateLimits, RequestTooLargeError
from llmgateway.limits.memory import MemoryLimitStore
from llmgateway.limits.redis_store import RedisLimitStore


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> LimitStore:
    if request.param == "memory":
        return MemoryLimitStore()
    make: Callable[[], RedisLimitStore] = request.getfixturevalue("redis_stores")
    return make()


async def rejected(store: LimitStore, scope: str, limits: RateLimits, tokens: int = 0) -> RateLimitError:
    with pytest.raises(RateLimitError) as info:
        await store.acquire(scope, limits, tokens)
    return info.value


async def test_passes_under_the_limit_without_waiting(store: LimitStore) -> None:
    limits = RateLimits(rpm=60, tpm=1000, burst=5, max_wait=0)
    started = time.monotonic()
    for _ in range(5):
        await store.acquire("key:abc", limits, 100)
    assert time.monotonic() - started < 1.0


async def test_unlimited_scope_costs_nothing(store: LimitStore) -> None:
    for _ in range(100):
        reservation = await store.acquire("key:abc", RateLimits(max_wait=0), 10**9)
        await reservation.settle(5)


async def test_over_the_limit_rejects_with_retry_after(store: LimitStore) -> None:
    limits = RateLimits(rpm=60, max_wait=0)
    await store.acquire("key:abc", limits)
    error = await rejected(store, "key:abc", limits)
    assert error.retry_after is not None and 0.8 < error.retry_after <= 1.0
    assert "key 'abc' is over its limit of 60 requests/min; retry after" in error.message
    assert error.status_code == 429 and error.retryable


async def test_deployment_scope_names_the_deployment(store: LimitStore) -> None:
    limits = RateLimits(rpm=60, max_wait=0)
    await store.acquire("deployment:gpt-a", limits)
    error = await rejected(store, "deployment:gpt-a", limits)
    assert error.deployment == "gpt-a"


async def test_waits_when_the_wait_is_within_max_wait(store: LimitStore) -> None:
    limits = RateLimits(rpm=600, max_wait=1.0)  # one every 0.1 s
    started = time.monotonic()
    for _ in range(4):
        await store.acquire("model:chat", limits)
    assert 0.25 < time.monotonic() - started < 2.0


async def test_concurrent_waiters_are_spread_at_the_rate(store: LimitStore) -> None:
    limits = RateLimits(rpm=1200, max_wait=5.0)  # one every 0.05 s
    started = time.monotonic()
    await asyncio.gather(*(store.acquire("model:chat", limits) for _ in range(10)))
    # The first passes at once, the other nine each reserved a later slot.
    assert 0.4 < time.monotonic() - started < 3.0


async def test_burst(store: LimitStore) -> None:
    limits = RateLimits(rpm=60, burst=3, max_wait=0)
    for _ in range(3):
        await store.acquire("key:abc", limits)
    error = await rejected(store, "key:abc", limits)
    assert error.retry_after is not None and 0.8 < error.retry_after <= 1.0


async def test_tokens_charge_refund_and_debt(store: LimitStore) -> None:
    limits = RateLimits(tpm=600, max_wait=0)  # 0.1 s of refill per token
    first = await store.acquire("key:abc", limits, 400)
    error = await rejected(store, "key:abc", limits, 400)
    assert "600 tokens/min (this request needs about 400)" in error.message
    assert error.retry_after is not None and 19.0 < error.retry_after <= 20.0
    await first.settle(100)  # refund 300: 100 used
    second = await store.acquire("key:abc", limits, 400)  # 500 used
    await second.settle(900)  # 500 more than estimated: 1000 of 600, in debt
    error = await rejected(store, "key:abc", limits, 0)
    assert error.retry_after is not None and 39.0 < error.retry_after <= 40.0


async def test_settle_is_idempotent(store: LimitStore) -> None:
    limits = RateLimits(tpm=600, max_wait=0)
    first = await store.acquire("key:abc", limits, 600)
    await first.settle(0)
    await first.settle(5000)  # ignored
    await store.acquire("key:abc", limits, 600)


async def test_a_request_larger_than_the_bucket_can_never_pass(store: LimitStore) -> None:
    limits = RateLimits(tpm=1000, max_wait=60)
    started = time.monotonic()
    with pytest.raises(RequestTooLargeError, match="can never pass") as info:
        await store.acquire("deployment:small", limits, 1001)
    assert time.monotonic() - started < 0.5
    assert info.value.retry_after is None and not info.value.retryable and info.value.fallback
    await store.acquire("deployment:small", limits, 1000)  # a full bucket still fits


async def test_both_or_neither(store: LimitStore) -> None:
    limits = RateLimits(rpm=60, burst=2, tpm=100, max_wait=0)
    await store.acquire("key:abc", limits, 80)
    await rejected(store, "key:abc", limits, 80)  # tokens say no: the request is not charged
    await store.acquire("key:abc", limits, 10)  # so the burst still has its second request
    error = await rejected(store, "key:abc", limits, 0)
    assert "requests/min" in error.message


async def test_two_scopes_are_independent(store: LimitStore) -> None:
    limits = RateLimits(rpm=60, tpm=100, max_wait=0)
    await store.acquire("key:a", limits, 100)
    await store.acquire("key:b", limits, 100)
    await store.acquire("model:a", limits, 100)
    await rejected(store, "key:a", limits)


async def test_a_cancelled_waiter_gives_its_slot_back(store: LimitStore) -> None:
    limits = RateLimits(rpm=60, max_wait=5)
    await store.acquire("key:abc", limits)
    waiter = asyncio.create_task(store.acquire("key:abc", limits))
    await asyncio.sleep(0.1)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await asyncio.sleep(0.05)  # the Redis store refunds in the background
    error = await rejected(store, "key:abc", RateLimits(rpm=60, max_wait=0))
    assert error.retry_after is not None and error.retry_after < 1.0
