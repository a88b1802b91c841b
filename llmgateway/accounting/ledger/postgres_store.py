"""The shared ledger for many replicas: PostgreSQL through an asyncpg pool (created on first use).

Money columns are NUMERIC, so sums are exact. A batch is one ``INSERT ... SELECT FROM unnest(...)``
statement (one round trip, one transaction) that skips ids already stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from llmgateway.accounting.ledger.record import FIELD_NAMES, UsageRecord, utc
from llmgateway.accounting.ledger.store import (
    SpentColumn,
    UsageBucket,
    UsageTotal,
    check_bucket,
    check_dimensions,
    in_group_order,
    in_time_order,
    spent_from_totals,
)
from llmgateway.storage.pg_pool import LazyPool

if TYPE_CHECKING:
    import asyncpg

# (column, SQL type) in UsageRecord field order.
_TYPES = (
    "text", "timestamptz", "text", "text", "text", "text", "text", "text", "text", "integer",
    "text", "boolean", "bigint", "bigint", "double precision", "numeric", "numeric", "numeric",
    "numeric", "numeric", "text", "boolean", "double precision", "double precision", "integer",
)  # fmt: skip
_NOT_NULL = {
    "created_at", "model", "outcome", "cache", "stream", "prompt_tokens", "completion_tokens",
    "cost_input", "cost_output", "cost_compute", "cost_abandoned", "cost_total", "currency",
    "estimated", "latency_ms", "attempts",
}  # fmt: skip


def _dimension(name: str) -> str:
    return "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')" if name == "day" else f'"{name}"'


class PostgresLedgerStore:
    """A LedgerStore on one PostgreSQL table (created with its indexes when missing)."""

    def __init__(self, dsn: str, table: str = "llm_usage", *, create: bool = True, max_size: int = 4) -> None:
        self.dsn = dsn
        self.table = table
        self._pool = LazyPool(dsn, max_size=max_size, setup=self._create_table if create else None)
        columns = ", ".join(f'"{name}"' for name in FIELD_NAMES)
        arrays = ", ".join(f"${i}::{kind}[]" for i, kind in enumerate(_TYPES, start=1))
        self._insert = (
            f'INSERT INTO "{table}" ({columns}) SELECT * FROM unnest({arrays}) ON CONFLICT (id) DO NOTHING'
        )

    async def _create_table(self, pool: asyncpg.Pool) -> None:
        def describe(name: str, kind: str) -> str:
            return f'"{name}" {kind}' + (
                " PRIMARY KEY" if name == "id" else " NOT NULL" if name in _NOT_NULL else ""
            )

        columns = ", ".join(describe(name, kind) for name, kind in zip(FIELD_NAMES, _TYPES, strict=True))
        async with pool.acquire() as connection, connection.transaction():
            # Replicas starting together would race on CREATE TABLE IF NOT EXISTS.
            await connection.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"llmgateway:{self.table}")
            await connection.execute(f'CREATE TABLE IF NOT EXISTS "{self.table}" ({columns})')
            for column in ("created_at", "key", "model"):
                await connection.execute(
                    f'CREATE INDEX IF NOT EXISTS "{self.table}_{column}_idx" ON "{self.table}" ("{column}")'
                )

    async def write(self, records: Sequence[UsageRecord]) -> None:
        if not records:
            return
        columns: list[list[Any]] = [[] for _ in FIELD_NAMES]
        for record in records:
            for index, name in enumerate(FIELD_NAMES):
                columns[index].append(getattr(record, name))
        columns[1] = [utc(moment) for moment in columns[1]]
        pool = await self._pool.get()
        await pool.execute(self._insert, *columns)

    async def totals(
        self,
        group_by: Sequence[str],
        since: datetime | None = None,
        until: datetime | None = None,
        where: Mapping[str, str] | None = None,
    ) -> list[UsageTotal]:
        check_dimensions(group_by, where)
        clauses: list[str] = []
        params: list[Any] = []

        def bind(value: Any) -> str:
            params.append(value)
            return f"${len(params)}"

        if since is not None:
            clauses.append(f"created_at >= {bind(utc(since))}")
        if until is not None:
            clauses.append(f"created_at < {bind(utc(until))}")
        for name, value in (where or {}).items():
            clauses.append(f"{_dimension(name)} = {bind(value)}")
        where_sql = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        dims = [_dimension(name) for name in group_by] + ["currency"]
        select = ", ".join(dims)
        pool = await self._pool.get()
        rows = await pool.fetch(self._aggregate(select, where_sql), *params)
        width = len(dims)
        totals = [
            UsageTotal(
                group=dict(zip(group_by, tuple(row)[: width - 1], strict=True)),
                **_sums(row, width),
            )
            for row in rows
        ]
        return in_group_order(totals)

    async def spent(
        self, column: SpentColumn | None, value: str | None, since: datetime | None = None
    ) -> Decimal:
        return await spent_from_totals(self, column, value, since)

    async def timeseries(
        self,
        bucket_seconds: int,
        since: datetime,
        until: datetime | None = None,
        group_by: str | None = None,
    ) -> list[UsageBucket]:
        check_bucket(bucket_seconds, group_by)
        size = int(bucket_seconds)
        params: list[Any] = [utc(since)]
        where_sql = " WHERE created_at >= $1"
        if until is not None:
            params.append(utc(until))
            where_sql += " AND created_at < $2"
        # Whole buckets since the epoch; the created_at index serves the range filter.
        dims = [f"floor(extract(epoch FROM created_at) / {size})::bigint"]
        if group_by:
            dims.append(_dimension(group_by))
        dims.append("currency")
        select = ", ".join(dims)
        pool = await self._pool.get()
        rows = await pool.fetch(self._aggregate(select, where_sql), *params)
        width = len(dims)
        buckets = [
            UsageBucket(
                start=datetime.fromtimestamp(row[0] * size, timezone.utc),
                group=row[1] if group_by else None,
                **_sums(row, width),
            )
            for row in rows
        ]
        return in_time_order(buckets)

    async def recent(self, limit: int) -> list[UsageRecord]:
        if limit < 1:
            return []
        columns = ", ".join(f'"{name}"' for name in FIELD_NAMES)
        pool = await self._pool.get()
        rows = await pool.fetch(
            f'SELECT {columns} FROM "{self.table}" ORDER BY created_at DESC, id LIMIT $1', int(limit)
        )
        return [UsageRecord(**dict(zip(FIELD_NAMES, tuple(row), strict=True))) for row in rows]

    def _aggregate(self, select: str, where_sql: str) -> str:
        """Calls, errors, cache hits, tokens and exact cost per group: the columns after
        ``select``'s, in that order."""
        return (
            f"SELECT {select}, COUNT(*), COUNT(*) FILTER (WHERE outcome <> 'ok'), "
            f"COUNT(*) FILTER (WHERE cache = 'hit'), COALESCE(SUM(prompt_tokens), 0), "
            f"COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(cost_total), 0) "
            f'FROM "{self.table}"{where_sql} GROUP BY {select}'
        )

    async def aclose(self) -> None:
        await self._pool.close()


def _sums(row: Any, width: int) -> dict[str, Any]:
    """The aggregate columns after a row's ``width`` grouping columns (the last one is currency)."""
    return {
        "calls": row[width],
        "errors": row[width + 1],
        "cache_hits": row[width + 2],
        "prompt_tokens": int(row[width + 3]),
        "completion_tokens": int(row[width + 4]),
        "cost": Decimal(row[width + 5]),
        "currency": row[width - 1],
    }
