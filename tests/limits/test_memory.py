"""The in-process store: exact numbers on a fake clock, waiter order, event loops, the hot path."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from llmgateway.errors import RateLimitError
from llmgateway.limits import RateLimits
from llmgateway.limits.base import NOOP_RESERVATION
from llmgateway.limits.memory import MemoryLimitStore
from tests.limits.conftest import FakeClock


async def test_retry_after_is_exact(clock: FakeClock) -> None:
    store = MemoryLimitStore(clock=clock)
    limits = RateLimits(rpm=120, burst=2, max_wait=0)  # 0.5 s per request
    await store.acquire("key:k", limits)
    await store.acquire("key:k", limits)
    with pytest.raises(RateLimitError) as info:
        await store.acquire("key:k", limits)
    assert info.value.retry_after == pytest.approx(0.5)
    clock.advance(0.5)
    await store.acquire("key:k", limits)
    with pytest.raises(RateLimitError) as info:
        await store.acquire("key:k", limits)
    assert info.value.retry_after == pytest.approx(0.5)
    clock.advance(10)  # idle: the burst is back, no more
    await store.acquire("key:k", limits)
    await store.acquire("key:k", limits)
    with pytest.raises(RateLimitError):
        await store.acquire("key:k", limits)


async def test_tokens_on_a_fake_clock(clock: FakeClock) -> None:
    store = MemoryLimitStore(clock=clock)
    limits = RateLimits(tpm=6000, max_wait=0)  # 100 tokens a second
    reservation = await store.acquire("model:m", limits, 6000)
    with pytest.raises(RateLimitError) as info:
        await store.acquire("model:m", limits, 50)
    assert info.value.retry_after == pytest.approx(0.5)
    clock.advance(0.5)
    await store.acquire("model:m", limits, 50)
    await reservation.settle(6200)  # 200 more than estimated: two seconds of debt
    with pytest.raises(RateLimitError) as info:
        await store.acquire("model:m", limits, 0)
    assert info.value.retry_after == pytest.approx(2.0)


async def test_max_wait_bounds_the_wait(clock: FakeClock) -> None:
    store = MemoryLimitStore(clock=clock)
    limits = RateLimits(rpm=60, max_wait=1.5)
    await store.acquire("key:k", limits)
    waiting = asyncio.create_task(store.acquire("key:k", limits))  # reserves t+1, sleeps
    await asyncio.sleep(0)
    with pytest.raises(RateLimitError) as info:  # would pass at t+2: over max_wait
        await store.acquire("key:k", limits)
    assert info.value.retry_after == pytest.approx(2.0)
    assert "longer than its max_wait of 1.5 s" in info.value.message
    waiting.cancel()


async def test_waiters_pass_in_arrival_order() -> None:
    store = MemoryLimitStore()
    limits = RateLimits(rpm=3000, max_wait=5)  # 20 ms apart
    passed: list[tuple[int, float]] = []

    async def one(index: int) -> None:
        await store.acquire("key:k", limits)
        passed.append((index, time.monotonic()))

    await asyncio.gather(*(one(index) for index in range(15)))
    assert [index for index, _ in passed] == list(range(15))
    gaps = [b - a for (_, a), (_, b) in itertools.pairwise(passed)]
    assert sum(gaps) / len(gaps) == pytest.approx(0.02, rel=0.5)


def test_survives_a_new_event_loop() -> None:
    store = MemoryLimitStore()
    limits = RateLimits(rpm=600, max_wait=1)

    async def twice() -> None:
        await store.acquire("key:k", limits)
        await store.acquire("key:k", limits)  # waits on this loop

    asyncio.run(twice())
    asyncio.run(twice())


async def test_unlimited_and_rpm_only_scopes_have_nothing_to_settle() -> None:
    store = MemoryLimitStore()
    assert await store.acquire("key:k", RateLimits()) is NOOP_RESERVATION
    assert await store.acquire("key:k", RateLimits(rpm=60)) is NOOP_RESERVATION


async def test_idle_scopes_are_swept(clock: FakeClock) -> None:
    store = MemoryLimitStore(clock=clock)
    limits = RateLimits(rpm=60)
    for index in range(1024):
        await store.acquire(f"key:{index}", limits)
    clock.advance(61)
    await store.acquire("key:new", limits)
    assert len(store._scopes) == 1


async def test_hot_path_cost() -> None:
    store = MemoryLimitStore()
    limits = RateLimits(rpm=1e12, tpm=1e15)
    calls = 20_000
    started = time.perf_counter()
    for _ in range(calls):
        await store.acquire("deployment:d", limits, 500)
    per_call = (time.perf_counter() - started) / calls * 1e6
    print(f"memory acquire (rpm+tpm, room): {per_call:.2f} us")
    assert per_call < 100  # generous: about 1-2 us on a laptop
