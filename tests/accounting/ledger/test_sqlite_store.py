from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from llmgateway.accounting.ledger.money import from_units, to_units
from llmgateway.accounting.ledger.sqlite_store import SqliteLedgerStore
from tests.accounting.ledger import store_checks
from tests.accounting.ledger.factory import make_record


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteLedgerStore]:
    store = SqliteLedgerStore(tmp_path / "usage.sqlite")
    yield store
    await store.aclose()


async def test_exact_sum_of_many_small_costs(store: SqliteLedgerStore) -> None:
    await store_checks.check_exact_sum(store)


async def test_round_trip_and_idempotent_writes(store: SqliteLedgerStore) -> None:
    await store_checks.check_round_trip_and_idempotence(store)


async def test_group_by_each_dimension(store: SqliteLedgerStore) -> None:
    await store_checks.check_group_by_each_dimension(store)


async def test_currencies_are_totalled_apart(store: SqliteLedgerStore) -> None:
    await store_checks.check_currencies_apart(store)


async def test_sums_past_sqlite_integer_range_stay_exact(store: SqliteLedgerStore) -> None:
    # Each fits the 1e-12 integer units; their SQL sum would overflow 64 bits.
    await store.write([make_record(cost_total=Decimal("5000000.000000000001")) for _ in range(3)])
    [total] = await store.totals([])
    assert total.cost == Decimal("15000000.000000000003")


async def test_stored_columns_keep_the_record(store: SqliteLedgerStore, tmp_path: Path) -> None:
    import sqlite3

    await store.write([make_record(id="x", stream=True, ttft_ms=3.5, compute_seconds=0.25)])
    await store.aclose()
    row = (
        sqlite3.connect(tmp_path / "usage.sqlite")
        .execute(
            "SELECT id, created_at, stream, ttft_ms, compute_seconds, cost_total, cost_total_units "
            "FROM llm_usage"
        )
        .fetchone()
    )
    assert row == ("x", "2024-05-01T12:00:00.000000Z", 1, 3.5, 0.25, "0.0000045", 4_500_000)


async def test_reader_does_not_create_a_missing_file(tmp_path: Path) -> None:
    import sqlite3

    reader = SqliteLedgerStore(tmp_path / "absent.sqlite", create=False)
    with pytest.raises(sqlite3.OperationalError):
        await reader.totals([])
    await reader.aclose()
    assert not (tmp_path / "absent.sqlite").exists()


async def test_unknown_dimension_is_refused(store: SqliteLedgerStore) -> None:
    with pytest.raises(ValueError, match="unknown usage dimension"):
        await store.totals(["colour"])


def test_units() -> None:
    assert to_units(Decimal("0.000000123")) == 123_000
    assert to_units(Decimal("1E-13")) is None
    assert to_units(Decimal("-2.5")) == -2_500_000_000_000
    assert to_units(Decimal("1E+8")) is None  # past 64 bits
    assert from_units(123_000) == Decimal("0.000000123")
