"""The same checks for every LedgerStore (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from llmgateway.accounting.ledger import LedgerStore
from tests.accounting.ledger.factory import make_record

DAY1 = datetime(2024, 5, 1, 23, 59, 59, 999999, tzinfo=timezone.utc)
DAY2 = datetime(2024, 5, 2, 0, 0, tzinfo=timezone.utc)


async def check_exact_sum(store: LedgerStore) -> None:
    cost = Decimal("0.000000123")
    records = [make_record(cost_total=cost) for _ in range(10_000)]
    for start in range(0, len(records), 500):
        await store.write(records[start : start + 500])
    [total] = await store.totals([])
    assert total.calls == 10_000
    assert total.cost == Decimal("0.00123")
    assert await store.spent(None, None) == Decimal("0.00123")


async def check_round_trip_and_idempotence(store: LedgerStore) -> None:
    first = make_record(id="req-1", cost_total=Decimal("1.25"), prompt_tokens=7, completion_tokens=3)
    await store.write([first])
    await store.write([first, make_record(id="req-2", cost_total=Decimal("0.75"))])
    await store.write([make_record(id="req-2", cost_total=Decimal("100"))])  # same id: ignored
    [total] = await store.totals(["model"])
    assert total.group == {"model": "chat"}
    assert total.calls == 2
    assert total.cost == Decimal("2.00")
    assert total.prompt_tokens == 17
    assert total.completion_tokens == 8
    assert total.currency == "USD"


async def check_group_by_each_dimension(store: LedgerStore) -> None:
    await store.write(
        [
            make_record(created_at=DAY1, key="a", team="t1", model="m1", deployment="d1", provider="p1",
                        cost_total=Decimal("1.000000000001")),
            make_record(created_at=DAY2, key="a", team="t1", model="m2", deployment="d2", provider="p2",
                        cache="hit", cost_total=Decimal("0")),
            make_record(created_at=DAY2, key="b", team=None, model="m2", deployment="d2", provider="p2",
                        outcome="error", error_type="RateLimitError", cost_total=Decimal("2.5")),
            make_record(created_at=DAY2 + timedelta(hours=5), key=None, team=None, model="m1",
                        deployment=None, provider=None, cost_total=Decimal("0.1234567890123456789")),
        ]
    )  # fmt: skip
    by_key = {t.group["key"]: t for t in await store.totals(["key"])}
    assert by_key["a"].calls == 2 and by_key["a"].cache_hits == 1
    assert by_key["a"].cost == Decimal("1.000000000001")
    assert by_key["b"].errors == 1
    assert by_key[None].cost == Decimal("0.1234567890123456789")  # finer than 1e-12: still exact
    day = {t.group["day"]: t.calls for t in await store.totals(["day"])}
    assert day == {"2024-05-01": 1, "2024-05-02": 3}
    assert {t.group["team"]: t.calls for t in await store.totals(["team"])} == {"t1": 2, None: 2}
    model = {t.group["model"]: t.cost for t in await store.totals(["model"])}
    assert model == {"m1": Decimal("1.1234567890133456789"), "m2": Decimal("2.5")}
    assert {t.group["deployment"]: t.calls for t in await store.totals(["deployment"])} == {
        "d1": 1, "d2": 2, None: 1,
    }  # fmt: skip
    assert {t.group["provider"]: t.calls for t in await store.totals(["provider"])} == {
        "p1": 1, "p2": 2, None: 1,
    }  # fmt: skip
    assert {t.group["cache"]: t.calls for t in await store.totals(["cache"])} == {"hit": 1, "miss": 3}
    assert {t.group["outcome"]: t.calls for t in await store.totals(["outcome"])} == {"ok": 3, "error": 1}
    pairs = await store.totals(["key", "day"])
    assert [(t.group["key"], t.group["day"], t.calls) for t in pairs] == [
        ("a", "2024-05-01", 1), ("a", "2024-05-02", 1), ("b", "2024-05-02", 1), (None, "2024-05-02", 1),
    ]  # fmt: skip
    # since inclusive, until exclusive; where filters by equality.
    [late] = await store.totals([], since=DAY2)
    assert late.calls == 3
    [early] = await store.totals([], until=DAY2)
    assert early.calls == 1
    [m2] = await store.totals([], where={"model": "m2", "day": "2024-05-02"})
    assert m2.calls == 2 and m2.cost == Decimal("2.5")
    assert await store.spent("key", "a") == Decimal("1.000000000001")
    assert await store.spent("model", "m1", since=DAY2) == Decimal("0.1234567890123456789")
    assert await store.spent("team", "nobody") == Decimal(0)


async def check_currencies_apart(store: LedgerStore) -> None:
    await store.write(
        [make_record(cost_total=Decimal("1")), make_record(cost_total=Decimal("2"), currency="EUR")]
    )
    totals = await store.totals(["model"])
    assert sorted((t.currency, t.cost) for t in totals) == [("EUR", Decimal(2)), ("USD", Decimal(1))]
