"""The dashboard's reads of the ledger stores: totals per time bucket and the newest records, the
same checks on SQLite and on the real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from llmgateway.accounting.ledger.postgres_store import PostgresLedgerStore
from llmgateway.accounting.ledger.sqlite_store import SqliteLedgerStore
from llmgateway.accounting.ledger.store import UsageHistory
from tests.accounting.ledger.factory import make_record

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)

Store = SqliteLedgerStore | PostgresLedgerStore


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path, postgres_dsn: str) -> AsyncIterator[Store]:
    made: Store
    if request.param == "sqlite":
        made = SqliteLedgerStore(tmp_path / "usage.sqlite")
    else:
        made = PostgresLedgerStore(postgres_dsn)
    yield made
    await made.aclose()


async def test_both_stores_answer_the_dashboard(store: Store) -> None:
    assert isinstance(store, UsageHistory)


async def test_buckets_group_and_sum_exactly(store: Store) -> None:
    await store.write(
        [
            make_record(created_at=T0, model="a", cost_total=Decimal("0.1")),
            make_record(created_at=T0 + timedelta(seconds=59, microseconds=999999), model="a",
                        cost_total=Decimal("0.0000000000001"), cache="hit"),  # finer than 1e-12
            make_record(created_at=T0 + timedelta(seconds=59), model="b", outcome="error"),
            make_record(created_at=T0 + timedelta(seconds=60), model="a", cost_total=Decimal("2")),
            make_record(created_at=T0 + timedelta(seconds=125), model="a", currency="EUR",
                        cost_total=Decimal("1")),
            make_record(created_at=T0 - timedelta(seconds=1), model="a"),  # before since
            make_record(created_at=T0 + timedelta(seconds=180), model="a"),  # at until: excluded
        ]
    )  # fmt: skip
    rows = await store.timeseries(60, T0, T0 + timedelta(seconds=180), group_by="model")
    got = [(r.start, r.group, r.calls, r.errors, r.cache_hits, r.cost, r.currency) for r in rows]
    assert got == [
        (T0, "a", 2, 0, 1, Decimal("0.1000000000001"), "USD"),
        (T0, "b", 1, 1, 0, Decimal("0.0000045"), "USD"),
        (T0 + timedelta(minutes=1), "a", 1, 0, 0, Decimal("2"), "USD"),
        (T0 + timedelta(minutes=2), "a", 1, 0, 0, Decimal("1"), "EUR"),
    ]
    assert rows[0].prompt_tokens == 20 and rows[0].completion_tokens == 10
    ungrouped = await store.timeseries(3600, T0 - timedelta(hours=1))
    assert [(r.start, r.group, r.calls) for r in ungrouped if r.currency == "USD"] == [
        (T0 - timedelta(hours=1), None, 1),
        (T0, None, 5),
    ]


async def test_bucket_starts_are_whole_multiples_since_the_epoch(store: Store) -> None:
    await store.write([make_record(created_at=T0 + timedelta(minutes=47, seconds=3))])
    [row] = await store.timeseries(900, T0)
    assert row.start == T0 + timedelta(minutes=45) and row.start.tzinfo is not None


async def test_bad_arguments(store: Store) -> None:
    with pytest.raises(ValueError, match="bucket_seconds"):
        await store.timeseries(0, T0)
    with pytest.raises(ValueError, match="unknown usage dimension"):
        await store.timeseries(60, T0, group_by="id; DROP TABLE llm_usage")


async def test_recent_returns_whole_records_newest_first(store: Store) -> None:
    first = make_record(id="old", created_at=T0, stream=True, ttft_ms=3.5, cost_total=Decimal("0.1"))
    records = [first] + [make_record(id=f"r{i}", created_at=T0 + timedelta(seconds=i + 1)) for i in range(5)]
    await store.write(records)
    newest = await store.recent(3)
    assert [r.id for r in newest] == ["r4", "r3", "r2"]
    everything = await store.recent(100)
    assert everything[-1] == first  # every field round-trips, types included
    assert await store.recent(0) == []
