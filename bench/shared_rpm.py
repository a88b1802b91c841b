"""Two gateway instances sharing one request-rate limit through the real Redis: how close the
calls they admit together come to the limit (ratio 1.0 = exactly the limit).

Both instances run in this process on separate Redis connections; 8 tasks call as fast as they
can, and back off 2 ms after each refusal. With ``burst 1`` the limit is strict spacing: a slot
nobody claims the instant it opens is lost, so a busy loop admits a little under the limit.

    python -m bench.shared_rpm [--rpm 1200] [--seconds 5] [--redis-url redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from typing import Any

from llmgateway import Gateway
from llmgateway.errors import RateLimitError

MESSAGES = [{"role": "user", "content": "hello"}]


async def measure(redis_url: str, rpm: float, burst: int, seconds: float) -> dict[str, Any]:
    limits = {
        "backend": "redis",
        "redis_url": redis_url,
        "prefix": f"llmgw-bench-{uuid.uuid4().hex[:8]}:",
        "models": {"chat": {"rpm": rpm, "burst": burst, "max_wait": 0}},
    }
    config = {"models": {"chat": {"deployments": [{"name": "m", "provider": "mock"}]}}, "limits": limits}
    gateways = [Gateway(config) for _ in range(2)]
    admitted = [0, 0]

    async def hammer(index: int, stop: float) -> None:
        while time.perf_counter() < stop:
            try:
                await gateways[index].chat.completions.create(model="chat", messages=MESSAGES)
                admitted[index] += 1
            except RateLimitError:
                await asyncio.sleep(0.002)

    try:
        started = time.perf_counter()
        await asyncio.gather(*(hammer(i % 2, started + seconds) for i in range(8)))
        elapsed = time.perf_counter() - started
    finally:
        for gateway in gateways:
            await gateway.aclose()
    allowed = elapsed * rpm / 60.0 + burst
    return {"burst": burst, "admitted": admitted, "allowed": allowed, "ratio": sum(admitted) / allowed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rpm", type=float, default=1200)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    for burst in (1, 10):
        result = asyncio.run(measure(args.redis_url, args.rpm, burst, args.seconds))
        print(
            f"burst {burst:>2}: admitted {sum(result['admitted'])} (per instance {result['admitted']}), "
            f"the limit allows {result['allowed']:.1f}: ratio {result['ratio']:.3f}"
        )


if __name__ == "__main__":
    main()
