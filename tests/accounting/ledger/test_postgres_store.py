from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from llmgateway.accounting.ledger.postgres_store import PostgresLedgerStore
from tests.accounting.ledger import store_checks
from tests.accounting.ledger.factory import make_record


@pytest.fixture
async def store(postgres_dsn: str) -> AsyncIterator[PostgresLedgerStore]:
    store = PostgresLedgerStore(postgres_dsn)
    yield store
    await store.aclose()


async def test_exact_sum_of_many_small_costs(store: PostgresLedgerStore) -> None:
    await store_checks.check_exact_sum(store)


async def test_round_trip_and_idempotent_writes(store: PostgresLedgerStore) -> None:
    await store_checks.check_round_trip_and_idempotence(store)


async def test_group_by_each_dimension(store: PostgresLedgerStore) -> None:
    await store_checks.check_group_by_each_dimension(store)


async def test_currencies_are_totalled_apart(store: PostgresLedgerStore) -> None:
    await store_checks.check_currencies_apart(store)


async def test_columns_are_typed(store: PostgresLedgerStore, postgres_dsn: str) -> None:
    import asyncpg

    await store.write([make_record(id="x", stream=True, ttft_ms=3.5, cost_total=Decimal("0.1"))])
    connection = await asyncpg.connect(postgres_dsn)
    try:
        row = await connection.fetchrow("SELECT * FROM llm_usage")
        kinds = dict(
            await connection.fetch(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = 'llm_usage' AND table_schema = current_schema()"
            )
        )
        indexes = await connection.fetchval(
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'llm_usage' AND schemaname = current_schema()"
        )
    finally:
        await connection.close()
    assert row["id"] == "x" and row["stream"] is True and row["cost_total"] == Decimal("0.1")
    assert row["created_at"] == make_record().created_at
    assert kinds["cost_total"] == "numeric" and kinds["created_at"] == "timestamp with time zone"
    assert indexes == 4  # primary key + created_at, key, model


async def test_a_second_store_reuses_the_table(store: PostgresLedgerStore, postgres_dsn: str) -> None:
    await store.write([make_record(id="a")])
    other = PostgresLedgerStore(postgres_dsn)
    try:
        await other.write([make_record(id="a"), make_record(id="b")])
        [total] = await other.totals([])
    finally:
        await other.aclose()
    assert total.calls == 2


async def test_ledger_totals_equal_the_reported_costs(postgres_dsn: str, tmp_path: object) -> None:
    import asyncio
    import random

    from llmgateway.accounting.ledger import Ledger, LedgerConfig

    rng = random.Random(7)
    costs = [Decimal(rng.randint(0, 10**9)).scaleb(-rng.randint(6, 15)) for _ in range(3000)]
    config = LedgerConfig(backend="postgres", dsn=postgres_dsn, batch_size=200, flush_interval=0.02,
                          max_pending=400, spill_path=f"{tmp_path}/spill.jsonl")  # fmt: skip
    ledger = Ledger(PostgresLedgerStore(postgres_dsn), config)

    async def call(index: int, cost: Decimal) -> None:
        await asyncio.sleep(0)
        await ledger.record(make_record(id=f"r{index}", cost_total=cost, model=f"m{index % 3}"))

    await asyncio.gather(*(call(i, c) for i, c in enumerate(costs)))
    await ledger.aclose()
    reader = PostgresLedgerStore(postgres_dsn, create=False)
    try:
        totals = await reader.totals(["model"])
        spent = await reader.spent(None, None)
    finally:
        await reader.aclose()
    assert sum(t.calls for t in totals) == 3000
    expected = sum(costs, Decimal(0))
    assert spent == expected and sum((t.cost for t in totals), Decimal(0)) == expected
