"""A second gateway replica for the shared-limit tests: its own process, event loop and Redis
connections. ``python -m tests.limits.replica URL PREFIX SCOPE RPM TASKS START_AT SECONDS`` hammers
one scope with ``max_wait=0`` from the wall-clock time START_AT for SECONDS and prints JSON counts."""

from __future__ import annotations

import asyncio
import json
import sys
import time

from llmgateway.errors import RateLimitError
from llmgateway.limits import RateLimits
from llmgateway.limits.redis_store import RedisLimitStore


async def hammer(
    store: RedisLimitStore, scope: str, limits: RateLimits, tasks: int, until: float
) -> dict[str, float]:
    """Try to pass ``scope`` from ``tasks`` tasks until the monotonic time ``until``."""
    counts = {"admitted": 0, "rejected": 0, "last_admit": 0.0}

    async def worker() -> None:
        while time.monotonic() < until:
            try:
                await store.acquire(scope, limits)
            except RateLimitError:
                counts["rejected"] += 1
                continue
            counts["admitted"] += 1
            counts["last_admit"] = time.time()

    await asyncio.gather(*(worker() for _ in range(tasks)))
    return counts


async def main(
    url: str, prefix: str, scope: str, rpm: float, tasks: int, start_at: float, seconds: float
) -> None:
    store = RedisLimitStore(url, prefix=prefix)
    try:
        await store.acquire("warm-up", RateLimits(rpm=1e9))  # connect before the start
        await asyncio.sleep(max(start_at - time.time(), 0.0))
        counts = await hammer(
            store, scope, RateLimits(rpm=rpm, max_wait=0), tasks, time.monotonic() + seconds
        )
    finally:
        await store.aclose()
    print(json.dumps(counts))


if __name__ == "__main__":
    url, prefix, scope, rpm, tasks, start_at, seconds = sys.argv[1:8]
    asyncio.run(main(url, prefix, scope, float(rpm), int(tasks), float(start_at), float(seconds)))
