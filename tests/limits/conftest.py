"""Fixtures for the rate-limit tests: a fake clock, and Redis stores whose keys are removed after."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from llmgateway.limits.redis_store import RedisLimitStore


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def delete_prefix(url: str, prefix: str) -> int:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
        return len(keys)
    finally:
        await client.aclose()


@pytest.fixture
async def redis_stores(redis_url: str, redis_prefix: str) -> AsyncIterator[Callable[[], RedisLimitStore]]:
    """Makes Redis stores (each with its own connections) under this test's prefix."""
    made: list[RedisLimitStore] = []

    def make() -> RedisLimitStore:
        store = RedisLimitStore(redis_url, prefix=redis_prefix)
        made.append(store)
        return store

    try:
        yield make
    finally:
        for store in made:
            await store.aclose()
        await delete_prefix(redis_url, redis_prefix)


@pytest.fixture
def redis_store(redis_stores: Callable[[], RedisLimitStore]) -> RedisLimitStore:
    return redis_stores()
