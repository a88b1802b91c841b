"""The Redis store: keys and TTLs, several instances sharing a scope, Redis failures, event loops."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from llmgateway.errors import RateLimitError, ServiceUnavailableError
from llmgateway.limits import RateLimits
from llmgateway.limits.base import NOOP_RESERVATION
from llmgateway.limits.redis_store import RedisLimitStore
from tests.limits.conftest import delete_prefix

Stores = Callable[[], RedisLimitStore]


async def test_keys_live_under_the_prefix_with_a_ttl(
    redis_store: RedisLimitStore, redis_url: str, redis_prefix: str
) -> None:
    from redis.asyncio import Redis

    await redis_store.acquire("key:abc", RateLimits(rpm=60, tpm=6000), 100)
    rpm_key, tpm_key = redis_store.keys("key:abc")
    assert rpm_key.startswith(redis_prefix) and tpm_key.startswith(redis_prefix)
    client = Redis.from_url(redis_url)
    try:
        assert 0 < await client.pttl(rpm_key) <= 2000  # one request's TAT + 1 s
        assert 0 < await client.pttl(tpm_key) <= 2000  # 100 tokens at 100/s + 1 s
    finally:
        await client.aclose()


async def test_settle_across_instances(redis_stores: Stores) -> None:
    one, two = redis_stores(), redis_stores()
    limits = RateLimits(tpm=600, max_wait=0)
    reservation = await one.acquire("model:chat", limits, 600)
    with pytest.raises(RateLimitError):
        await two.acquire("model:chat", limits, 300)
    await reservation.settle(200)  # settled by the first replica, seen by the second
    await two.acquire("model:chat", limits, 300)
    with pytest.raises(RateLimitError) as info:
        await one.acquire("model:chat", limits, 300)
    assert info.value.retry_after == pytest.approx(20.0, abs=0.5)


async def test_unreachable_redis_rejects_naming_the_url() -> None:
    store = RedisLimitStore("redis://:hunter2@127.0.0.1:1/0", timeout=0.5)
    try:
        with pytest.raises(ServiceUnavailableError) as info:
            await store.acquire("key:abc", RateLimits(rpm=60))
    finally:
        await store.aclose()
    message = info.value.message
    assert "redis://:***@127.0.0.1:1/0" in message and "hunter2" not in message
    assert "on_redis_error: allow" in message


async def test_unreachable_redis_can_let_calls_through() -> None:
    store = RedisLimitStore("redis://127.0.0.1:1/0", timeout=0.5, on_error="allow")
    try:
        reservation = await store.acquire("key:abc", RateLimits(rpm=60, tpm=10), 5)
        assert reservation is NOOP_RESERVATION
    finally:
        await store.aclose()


async def test_accepts_an_existing_client(redis_url: str, redis_prefix: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url, decode_responses=True)
    store = RedisLimitStore(client=client, prefix=redis_prefix)
    try:
        await store.acquire("key:abc", RateLimits(rpm=60, max_wait=0))
        with pytest.raises(RateLimitError):
            await store.acquire("key:abc", RateLimits(rpm=60, max_wait=0))
        await store.aclose()
        assert await client.ping()  # not ours to close
    finally:
        await client.aclose()
        await delete_prefix(redis_url, redis_prefix)


def test_survives_a_new_event_loop(redis_url: str, redis_prefix: str) -> None:
    store = RedisLimitStore(redis_url, prefix=redis_prefix)
    limits = RateLimits(rpm=600, max_wait=1)

    async def twice() -> None:
        await store.acquire("key:abc", limits)
        await store.acquire("key:abc", limits)

    async def last() -> None:
        await twice()
        await store.aclose()

    try:
        asyncio.run(twice())
        asyncio.run(last())
    finally:
        asyncio.run(delete_prefix(redis_url, redis_prefix))


async def test_acquire_cost(redis_store: RedisLimitStore) -> None:
    limits = RateLimits(rpm=1e12, tpm=1e15)
    await redis_store.acquire("deployment:d", limits, 500)
    calls = 1000
    started = time.perf_counter()
    for _ in range(calls):
        await redis_store.acquire("deployment:d", limits, 500)
    per_call = (time.perf_counter() - started) / calls * 1e6
    print(f"redis acquire (rpm+tpm, room, local server): {per_call:.0f} us")
    assert per_call < 20_000  # generous: one round trip to a local server
