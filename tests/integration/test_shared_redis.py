"""Two gateway instances sharing the real Redis: one global request-rate limit, one budget."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

from llmgateway import Gateway
from llmgateway.errors import BudgetExceededError, RateLimitError

pytestmark = [__import__("pytest").mark.integration]

# A little burst absorbs the loop's scheduling jitter: with none, a slot nobody claims the
# instant it opens is lost, and a busy test loop admits a few percent less than the limit.
BURST = 10
MESSAGES = [{"role": "user", "content": "hello there, how are you today?"}]


def _config(redis_url: str, prefix: str, **sections: Any) -> dict[str, Any]:
    return {
        "models": {
            "chat": {
                "deployments": [
                    {
                        "name": "mock-a",
                        "provider": "mock",
                        "pricing": {"input_per_million": "100", "output_per_million": "400"},
                    }
                ]
            }
        },
        **sections,
    }


async def test_two_gateways_share_one_rpm_limit(redis_url: str, redis_prefix: str) -> None:
    rpm = 1200.0  # 20 requests/s across both instances
    limits = {
        "backend": "redis",
        "redis_url": redis_url,
        "prefix": redis_prefix,
        "models": {"chat": {"rpm": rpm, "burst": BURST, "max_wait": 0}},
    }
    gateways = [Gateway(_config(redis_url, redis_prefix, limits=limits)) for _ in range(2)]
    admitted = [0, 0]
    rejected = [0, 0]
    duration = 5.0

    async def hammer(index: int, stop: float) -> None:
        gateway = gateways[index]
        while time.perf_counter() < stop:
            try:
                await gateway.chat.completions.create(model="chat", messages=MESSAGES)
                admitted[index] += 1
            except RateLimitError as exc:
                assert exc.retry_after is not None and exc.retry_after > 0
                rejected[index] += 1
                await asyncio.sleep(0.002)

    try:
        started = time.perf_counter()
        stop = started + duration
        await asyncio.gather(*(hammer(i % 2, stop) for i in range(16)))
        elapsed = time.perf_counter() - started
    finally:
        for gateway in gateways:
            await gateway.aclose()
    expected = elapsed * rpm / 60.0 + BURST
    total = sum(admitted)
    assert all(admitted) and all(rejected), (admitted, rejected)
    assert abs(total - expected) / expected <= 0.05, (total, expected)


async def test_two_gateways_share_one_budget(redis_url: str, redis_prefix: str) -> None:
    hard = Decimal("0.50")
    budgets = {
        "backend": "redis",
        "redis_url": redis_url,
        "prefix": redis_prefix,
        "limits": [{"scope": "key", "name": "team-app", "period": "day", "hard": str(hard)}],
    }
    gateways = [
        Gateway(_config(redis_url, redis_prefix, budgets=budgets), caller="team-app") for _ in range(2)
    ]
    spent = [Decimal(0), Decimal(0)]
    refused = [0, 0]

    async def spend(index: int) -> None:
        gateway = gateways[index]
        while True:
            try:
                reply = await gateway.chat.completions.create(model="chat", messages=MESSAGES, max_tokens=20)
            except BudgetExceededError as exc:
                assert "team-app" in str(exc) and "0.50" in str(exc)
                refused[index] += 1
                return
            assert reply.gateway is not None
            spent[index] += reply.gateway.cost.total

    try:
        await asyncio.wait_for(asyncio.gather(*(spend(i % 2) for i in range(8))), 60)
        # Another key is not held back by this one's budget.
        other = await gateways[0].chat.completions.create(
            model="chat", messages=MESSAGES, caller="someone-else"
        )
        assert other.gateway is not None and other.gateway.cost.total > 0
    finally:
        for gateway in gateways:
            await gateway.aclose()
    total = sum(spent)
    # The largest estimate a call reserves: prompt estimate plus its 20 output tokens.
    one_call = Decimal(100) * 40 / 1_000_000 + Decimal(400) * 20 / 1_000_000
    assert all(refused) and all(spent)
    assert total <= hard, total
    assert total >= hard - 2 * one_call, total


async def test_two_gateways_share_one_response_cache(redis_url: str, redis_prefix: str) -> None:
    cache = {"backend": "redis", "redis_url": redis_url, "prefix": redis_prefix}
    first, second = (Gateway(_config(redis_url, redis_prefix, cache=cache)) for _ in range(2))
    try:
        miss = await first.chat.completions.create(model="chat", messages=MESSAGES, temperature=0)
        hit = await second.chat.completions.create(model="chat", messages=MESSAGES, temperature=0)
        streamed = await second.chat.completions.create(
            model="chat", messages=MESSAGES, temperature=0, stream=True
        )
        text = "".join([c.choices[0].delta.content or "" async for c in streamed if c.choices])
    finally:
        await first.aclose()
        await second.aclose()
    assert miss.gateway is not None and miss.gateway.cache == "miss"
    assert hit.gateway is not None and hit.gateway.cache == "hit" and hit.text() == miss.text()
    assert hit.gateway.cost.total == 0 and hit.gateway.cost.saved == miss.gateway.cost.total
    assert streamed.gateway is not None and streamed.gateway.cache == "hit" and text == miss.text()


async def test_replicas_share_circuit_breaker_openings(redis_url: str, redis_prefix: str) -> None:
    def config(fails: bool) -> dict[str, Any]:
        flaky: dict[str, Any] = {"name": "flaky", "provider": "mock"}
        if fails:
            flaky["settings"] = {"fault_rate": 1.0, "faults": [{"fault": "error", "status": 503}]}
        return {
            "models": {
                "chat": {
                    "routing": {"breaker": {"min_calls": 3, "open_seconds": 30}},
                    "deployments": [flaky, {"name": "backup", "provider": "mock"}],
                }
            },
            "cluster": {"redis_url": redis_url, "prefix": redis_prefix},
        }

    failing, healthy = Gateway(config(fails=True)), Gateway(config(fails=False))
    late: Gateway | None = None
    try:
        await healthy.chat.completions.create(model="chat", messages=MESSAGES)  # it starts listening
        await asyncio.sleep(0.2)
        for _ in range(3):
            reply = await failing.chat.completions.create(model="chat", messages=MESSAGES)
            assert reply.gateway is not None and reply.gateway.deployment == "backup"
        flaky = next(d for d in healthy.deployments() if d.name == "flaky")
        for _ in range(100):
            if flaky.breaker.state.value == "open":
                break
            await asyncio.sleep(0.01)
        assert flaky.breaker.state.value == "open"  # opened by the other replica
        reply = await healthy.chat.completions.create(model="chat", messages=MESSAGES)
        assert reply.gateway is not None and reply.gateway.deployment == "backup"
        late = Gateway(config(fails=False))  # a replica that starts after the opening
        await late.chat.completions.create(model="chat", messages=MESSAGES)
        late_flaky = next(d for d in late.deployments() if d.name == "flaky")
        for _ in range(100):
            if late_flaky.breaker.state.value == "open":
                break
            await asyncio.sleep(0.01)
        assert late_flaky.breaker.state.value == "open"
    finally:
        for gateway in (failing, healthy, late):
            if gateway is not None:
                await gateway.aclose()
