"""Budgets over the in-memory store: hard rejects, soft warnings, periods, per-name counters, seeding."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

from llmgateway.accounting.budgets.enforcer import Budgets
from llmgateway.accounting.budgets.settings import BudgetConfig, BudgetsConfig
from llmgateway.caller import Caller
from llmgateway.errors import BudgetExceededError

K1 = Caller(key="k1", team="t1")
K2 = Caller(key="k2", team="t1")


class Now:
    def __init__(self, when: datetime) -> None:
        self.when = when

    def __call__(self) -> datetime:
        return self.when


def budgets(*limits: dict[str, Any], now: Now | None = None, **kwargs: Any) -> Budgets:
    config = BudgetsConfig(limits=[BudgetConfig.model_validate(limit) for limit in limits])
    return Budgets(config, now=now or Now(datetime(2026, 11, 15, 12, tzinfo=timezone.utc)), **kwargs)


async def spend(b: Budgets, caller: Caller, amount: str, model: str = "m") -> list[str]:
    hold = await b.reserve(caller, model, Decimal(amount))
    return await hold.settle(Decimal(amount))


async def test_hard_limit_rejects_with_a_clear_message() -> None:
    b = budgets({"scope": "key", "hard": "10.00"})
    await spend(b, K1, "9.97")
    with pytest.raises(BudgetExceededError) as info:
        await b.reserve(K1, "m", Decimal("0.05"))
    error = info.value
    assert error.status_code == 402
    assert str(error).startswith("key 'k1' has spent 9.97 of its 10.00 USD monthly budget")
    assert "this call may cost up to 0.05" in str(error)
    assert "it resets 2026-12-01T00:00Z" in str(error)
    # What fits still passes; another key has its own counter ("*").
    await spend(b, K1, "0.03")
    await spend(b, K2, "9.99")
    await b.aclose()


async def test_actual_cost_replaces_the_estimate() -> None:
    b = budgets({"scope": "team", "hard": "1"})
    hold = await b.reserve(K1, "m", Decimal("0.9"))
    with pytest.raises(BudgetExceededError, match="team 't1'"):
        await b.reserve(K2, "m", Decimal("0.2"))  # the in-flight reservation counts
    await hold.settle(Decimal("0.1"))
    await b.reserve(K2, "m", Decimal("0.2"))
    released = await b.reserve(K1, "m", Decimal("0.7"))
    await released.release()
    assert await b.store.get("team:month:2026-11:USD:t1") == 300_000_000


async def test_soft_limit_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    b = budgets({"scope": "model", "name": "m", "soft": "1", "hard": "5", "period": "day"})
    assert await spend(b, K1, "0.6") == []
    with caplog.at_level(logging.WARNING, logger="llmgateway.budgets"):
        warnings = await spend(b, K1, "0.6")
    assert warnings == [
        "model 'm' has spent 1.20 of its 1.00 USD daily soft limit; it resets 2026-11-16T00:00Z"
    ]
    assert "model 'm' has spent 1.20" in caplog.text
    assert await spend(b, K2, "0.6") == []
    assert await spend(b, K1, "1", model="other") == []  # the budget names model "m" only


async def test_periods_roll_over() -> None:
    now = Now(datetime(2026, 11, 30, 23, 59, tzinfo=timezone.utc))
    b = budgets(
        {"scope": "key", "hard": "1", "period": "day"},
        {"scope": "global", "hard": "3", "period": "month", "soft": "2"},
        now=now,
    )
    await spend(b, K1, "1")
    with pytest.raises(BudgetExceededError, match="resets 2026-12-01T00:00Z"):
        await b.reserve(K1, "m", Decimal("0.01"))
    now.when = datetime(2026, 12, 1, 0, 0, 1, tzinfo=timezone.utc)
    await spend(b, K1, "1")  # a new day and a new month
    await spend(b, K2, "0.5")
    now.when = datetime(2026, 12, 2, tzinfo=timezone.utc)
    assert await spend(b, K1, "0.6") == [
        "the gateway has spent 2.10 of its 2.00 USD monthly soft limit; it resets 2027-01-01T00:00Z"
    ]
    with pytest.raises(
        BudgetExceededError, match=r"the gateway has spent 2\.10 of its 3\.00 USD monthly budget"
    ):
        await b.reserve(K2, "m", Decimal("1"))


async def test_total_budget_never_resets_and_counters_are_shared() -> None:
    b = budgets(
        {"scope": "key", "hard": "2", "period": "total"},
        {"scope": "key", "name": "k1", "hard": "1", "period": "total"},
    )
    await spend(b, K1, "1")
    with pytest.raises(BudgetExceededError, match=r"of its 1\.00 USD total budget") as info:
        await b.reserve(K1, "m", Decimal("0.5"))
    assert "it does not reset. To spend more, raise its hard limit" in str(info.value)
    await spend(b, K2, "2")  # k2 only has the "*" budget of 2


async def test_calls_without_budgets_await_nothing() -> None:
    b = budgets(
        {"scope": "key", "name": "someone", "hard": "1"}, {"scope": "team", "name": "t9", "hard": "1"}
    )
    hold = await b.reserve(Caller(), "m", Decimal(100))
    assert not hold.active
    assert await hold.settle(Decimal(100)) == []
    coroutine = b.reserve(K1, "m", Decimal(100))
    with pytest.raises(StopIteration):  # finished on the first step: no await suspended it
        coroutine.send(None)
    empty = Budgets(BudgetsConfig())
    assert not (await empty.reserve(K1, "m", Decimal(1))).active


async def test_other_currencies_pass_by() -> None:
    b = budgets({"scope": "global", "hard": "1", "currency": "EUR"})
    await spend(b, K1, "5")  # USD: no EUR budget counts it
    hold = await b.reserve(K1, "m", Decimal("0.5"), currency="EUR")
    assert hold.active
    with pytest.raises(BudgetExceededError, match="EUR"):
        await b.reserve(K1, "m", Decimal("0.6"), currency="EUR")


async def test_seed_from_the_ledger_once_per_counter() -> None:
    calls: list[tuple[str | None, str | None, datetime | None]] = []

    async def seed(column: str | None, value: str | None, since: datetime | None) -> Decimal:
        calls.append((column, value, since))
        await asyncio.sleep(0.01)
        return Decimal("9.5") if column == "key" else Decimal(0)

    b = budgets(
        {"scope": "key", "hard": "10"}, {"scope": "global", "hard": "100", "period": "total"}, seed=seed
    )
    holds = await asyncio.gather(*(b.reserve(K1, "m", Decimal("0.1")) for _ in range(5)))
    with pytest.raises(BudgetExceededError, match=r"has spent 10\.00 of its 10\.00"):
        await b.reserve(K1, "m", Decimal("0.1"))
    for hold in holds:
        await hold.settle(Decimal("0.1"))
    assert len(calls) == 2
    assert set(calls) == {(None, None, None), ("key", "k1", datetime(2026, 11, 1, tzinfo=timezone.utc))}


async def test_seed_failure_counts_from_zero(caplog: pytest.LogCaptureFixture) -> None:
    async def broken(column: str | None, value: str | None, since: datetime | None) -> Decimal:
        raise OSError("ledger down")

    b = budgets({"scope": "key", "hard": "1"}, seed=broken)
    with caplog.at_level(logging.WARNING, logger="llmgateway.budgets"):
        await spend(b, K1, "0.5")
    assert "could not seed" in caplog.text
    await spend(b, K1, "0.5")


async def test_settle_twice_counts_once() -> None:
    b = budgets({"scope": "key", "hard": "1"})
    hold = await b.reserve(K1, "m", Decimal("0.4"))
    await hold.settle(Decimal("0.4"))
    await hold.settle(Decimal("0.4"))
    await hold.release()
    assert await b.store.get("key:month:2026-11:USD:k1") == 400_000_000
