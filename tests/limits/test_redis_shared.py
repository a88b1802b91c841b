"""Two gateway instances (separate event loops and connections) sharing one limit through Redis."""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from llmgateway.limits import RateLimits
from llmgateway.limits.redis_store import RedisLimitStore
from tests.limits.conftest import delete_prefix
from tests.limits.replica import hammer


async def in_other_thread(url: str, prefix: str, work: Callable[[RedisLimitStore], Awaitable[None]]) -> None:
    """Run ``work`` with a second store on its own event loop in another thread: a second replica."""

    async def replica() -> None:
        store = RedisLimitStore(url, prefix=prefix)
        try:
            await work(store)
        finally:
            await store.aclose()

    await asyncio.to_thread(asyncio.run, replica())


async def test_two_instances_enforce_one_global_rpm(redis_url: str, redis_prefix: str) -> None:
    """The must-show: a second replica in its own process and this one hammer one scope together."""
    rpm, burst, seconds, tasks = 1200.0, 1, 5.0, 8
    start_at = time.time() + 2.0  # time for the other process to start and connect
    other = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.limits.replica",
        *(redis_url, redis_prefix, "model:shared", str(rpm), str(tasks), str(start_at), str(seconds)),
        stdout=asyncio.subprocess.PIPE,
        cwd=str(Path(__file__).parents[2]),
    )
    local = RedisLimitStore(redis_url, prefix=redis_prefix)
    try:
        await local.acquire("warm-up", RateLimits(rpm=1e9))
        await asyncio.sleep(start_at - time.time())
        limits = RateLimits(rpm=rpm, burst=burst, max_wait=0)
        mine = await hammer(local, "model:shared", limits, tasks, time.monotonic() + seconds)
        out, _ = await asyncio.wait_for(other.communicate(), 30)
    finally:
        if other.returncode is None:
            other.kill()
            await other.wait()
        await local.aclose()
        await delete_prefix(redis_url, redis_prefix)
    assert other.returncode == 0
    theirs = json.loads(out)
    admitted = [int(mine["admitted"]), int(theirs["admitted"])]
    rejected = [int(mine["rejected"]), int(theirs["rejected"])]
    elapsed = max(mine["last_admit"], theirs["last_admit"]) - start_at
    expected = elapsed * rpm / 60 + burst
    ratio = sum(admitted) / expected
    print(
        f"admitted {admitted} (total {sum(admitted)}), rejected {rejected}, "
        f"elapsed {elapsed:.2f} s, expected {expected:.1f}, ratio {ratio:.4f}"
    )
    assert min(admitted) > 0 and min(rejected) > 0  # both replicas competed for the same limit
    assert 0.95 <= ratio <= 1.05


async def test_waiting_calls_of_two_instances_are_spaced_by_the_rate(
    redis_url: str, redis_prefix: str
) -> None:
    rpm, per_replica = 600.0, 10  # one every 0.1 s
    limits = RateLimits(rpm=rpm, max_wait=30)
    passed: list[float] = []

    async def burst_of_calls(store: RedisLimitStore) -> None:
        async def one() -> None:
            await store.acquire("deployment:shared", limits)
            passed.append(time.monotonic())

        await asyncio.gather(*(one() for _ in range(per_replica)))

    local = RedisLimitStore(redis_url, prefix=redis_prefix)
    try:
        await asyncio.gather(burst_of_calls(local), in_other_thread(redis_url, redis_prefix, burst_of_calls))
    finally:
        await local.aclose()
        await delete_prefix(redis_url, redis_prefix)
    passed.sort()
    gaps = [b - a for a, b in itertools.pairwise(passed)]
    interval = 60 / rpm
    print(f"mean gap {sum(gaps) / len(gaps):.4f} s, min {min(gaps):.4f} s, max {max(gaps):.4f} s")
    assert len(passed) == 2 * per_replica
    assert abs(sum(gaps) / len(gaps) - interval) < 0.1 * interval
    assert min(gaps) > 0.5 * interval  # generous: a sleeper may wake a little late
