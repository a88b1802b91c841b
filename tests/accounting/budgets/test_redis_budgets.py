"""Budgets shared through the real Redis: two gateway replicas (separate connections) enforce one
budget under concurrent load, never passing the hard limit."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

from llmgateway.accounting.budgets.enforcer import Budgets
from llmgateway.accounting.budgets.periods import window
from llmgateway.accounting.budgets.settings import BudgetConfig, BudgetsConfig
from llmgateway.caller import Caller
from llmgateway.errors import BudgetExceededError

# Real time (frozen for this module): Redis expires counters by the wall clock.
NOW = datetime.now(timezone.utc)
MONTH = window("month", NOW).tag
DAY = window("day", NOW)


@pytest.fixture
async def replicas(redis_url: str, redis_prefix: str) -> AsyncIterator[Callable[..., list[Budgets]]]:
    made: list[Budgets] = []

    def make(*limits: dict[str, Any], count: int = 2) -> list[Budgets]:
        config = BudgetsConfig(
            backend="redis",
            redis_url=redis_url,
            prefix=redis_prefix,
            limits=[BudgetConfig.model_validate(limit) for limit in limits],
        )
        made.extend(Budgets(config, now=lambda: NOW) for _ in range(count))
        return made[-count:]

    yield make
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    keys = [key async for key in client.scan_iter(match=f"{redis_prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()
    for budgets in made:
        await budgets.aclose()


async def run_until_refused(
    budgets: Budgets, caller: Caller, estimate: Decimal, actual: Callable[[], Decimal]
) -> Decimal:
    """One worker: reserve, 'call', settle, until the budget refuses. Returns what it settled."""
    spent = Decimal(0)
    while True:
        try:
            hold = await budgets.reserve(caller, "m", estimate)
        except BudgetExceededError:
            return spent
        await asyncio.sleep(random.random() * 0.002)
        cost = actual()
        await hold.settle(cost)
        spent += cost


async def test_two_replicas_use_up_one_budget_exactly(replicas: Callable[..., list[Budgets]]) -> None:
    a, b = replicas({"scope": "key", "hard": "10.00"})
    caller = Caller(key="shared")
    estimate = Decimal("0.07")
    results = await asyncio.gather(
        *(run_until_refused(r, caller, estimate, lambda: estimate) for r in (a, b) for _ in range(20))
    )
    total = sum(results, Decimal(0))
    assert total <= Decimal("10.00")
    assert Decimal("10.00") - total < estimate  # used up to within one call
    assert await a.store.get(f"key:month:{MONTH}:USD:shared") == int(total * 10**9)
    assert all(r > 0 for r in results[:20]) or all(r > 0 for r in results[20:])  # both replicas worked


async def test_estimates_above_actual_never_pass_the_hard_limit(
    replicas: Callable[..., list[Budgets]],
) -> None:
    a, b = replicas({"scope": "team", "hard": "5"}, {"scope": "global", "hard": "1000", "soft": "1"})
    caller = Caller(key="x", team="t")
    rng = random.Random(3)
    estimate = Decimal("0.05")
    results = await asyncio.gather(
        *(
            run_until_refused(r, caller, estimate, lambda: Decimal(rng.randint(1, 50)) / 1000)
            for r in (a, b)
            for _ in range(16)
        )
    )
    total = sum(results, Decimal(0))
    assert Decimal("4.9") < total <= Decimal(5)
    assert await b.store.get(f"team:month:{MONTH}:USD:t") == int(total * 10**9)
    assert await b.store.get(f"global:month:{MONTH}:USD:*") == int(total * 10**9)


async def test_refusal_holds_nothing_in_other_budgets(replicas: Callable[..., list[Budgets]]) -> None:
    (a,) = replicas({"scope": "key", "hard": "1"}, {"scope": "global", "hard": "100"}, count=1)
    hold = await a.reserve(Caller(key="k"), "m", Decimal(1))
    with pytest.raises(BudgetExceededError, match=r"key 'k' has spent 1\.00 of its 1\.00 USD monthly budget"):
        await a.reserve(Caller(key="k"), "m", Decimal("0.5"))
    assert await a.store.get(f"global:month:{MONTH}:USD:*") == 10**9
    await hold.settle(Decimal("0.25"))
    assert await a.store.get(f"global:month:{MONTH}:USD:*") == 25 * 10**7


async def test_soft_limit_warns_once_across_replicas(replicas: Callable[..., list[Budgets]]) -> None:
    a, b = replicas({"scope": "model", "name": "m", "soft": "1", "hard": "10", "period": "day"})
    caller = Caller(key="k")
    warnings: list[str] = []

    async def call(budgets: Budgets) -> None:
        hold = await budgets.reserve(caller, "m", Decimal("0.1"))
        warnings.extend(await hold.settle(Decimal("0.1")))

    await asyncio.gather(*(call(r) for r in (a, b) for _ in range(15)))
    assert len(warnings) == 1
    assert "model 'm' has spent" in warnings[0] and "daily soft limit" in warnings[0]


async def test_counters_expire_after_their_period(
    replicas: Callable[..., list[Budgets]], redis_url: str, redis_prefix: str
) -> None:
    (a,) = replicas(
        {"scope": "key", "hard": "1", "period": "day"},
        {"scope": "key", "hard": "9", "period": "total"},
        count=1,
    )
    await (await a.reserve(Caller(key="k"), "m", Decimal("0.1"))).settle(Decimal("0.1"))
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    try:
        day_end = await client.expiretime(f"{redis_prefix}key:day:{DAY.tag}:USD:k")
        total_ttl = await client.ttl(f"{redis_prefix}key:total:total:USD:k")
    finally:
        await client.aclose()
    assert DAY.end is not None
    assert day_end == int(DAY.end.timestamp()) + 86_400  # a day's margin
    assert total_ttl == -1
