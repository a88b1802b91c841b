"""The embedded ledger: one SQLite file in WAL mode, used from one dedicated worker thread.

WAL with ``synchronous=NORMAL``: a committed batch survives the process being killed (it can be
lost only to an OS crash or power loss before the next checkpoint). Money is exact: see money.py.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from llmgateway.accounting.ledger.money import EXACT, from_units, to_units
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
from llmgateway.storage.sqlite_thread import SqliteThread

T = TypeVar("T")

_COLUMNS = (
    "id TEXT PRIMARY KEY, created_at TEXT NOT NULL, key TEXT, team TEXT, model TEXT NOT NULL, "
    "deployment TEXT, provider TEXT, outcome TEXT NOT NULL, error_type TEXT, status_code INTEGER, "
    "cache TEXT NOT NULL, stream INTEGER NOT NULL, prompt_tokens INTEGER NOT NULL, "
    "completion_tokens INTEGER NOT NULL, compute_seconds REAL, cost_input TEXT NOT NULL, "
    "cost_output TEXT NOT NULL, cost_compute TEXT NOT NULL, cost_abandoned TEXT NOT NULL, "
    "cost_total TEXT NOT NULL, cost_total_units INTEGER, currency TEXT NOT NULL, "
    "estimated INTEGER NOT NULL, latency_ms REAL NOT NULL, ttft_ms REAL, attempts INTEGER NOT NULL"
)
_INSERT_COUNT = 26


def sqlite_time(moment: datetime) -> str:
    """Fixed-width UTC text, so that text order is time order."""
    return utc(moment).isoformat(timespec="microseconds")[:26] + "Z"


def _row(r: UsageRecord) -> tuple[Any, ...]:
    return (
        r.id, sqlite_time(r.created_at), r.key, r.team, r.model, r.deployment, r.provider,
        r.outcome, r.error_type, r.status_code, r.cache, int(r.stream), r.prompt_tokens,
        r.completion_tokens, r.compute_seconds, str(r.cost_input), str(r.cost_output),
        str(r.cost_compute), str(r.cost_abandoned), str(r.cost_total), to_units(r.cost_total),
        r.currency, int(r.estimated), r.latency_ms, r.ttft_ms, r.attempts,
    )  # fmt: skip


def _record(row: tuple[Any, ...]) -> UsageRecord:
    values = dict(zip(FIELD_NAMES, row, strict=True))
    values["created_at"] = datetime.fromisoformat(values["created_at"])
    for name in ("stream", "estimated"):
        values[name] = bool(values[name])
    for name in ("cost_input", "cost_output", "cost_compute", "cost_abandoned", "cost_total"):
        values[name] = Decimal(values[name])
    return UsageRecord(**values)


def _dimension(name: str) -> str:
    return "substr(created_at, 1, 10)" if name == "day" else f'"{name}"'


def _filters(
    since: datetime | None, until: datetime | None, where: Mapping[str, str] | None
) -> tuple[str, list[Any]]:
    clauses, params = [], []
    if since is not None:
        clauses.append("created_at >= ?")
        params.append(sqlite_time(since))
    if until is not None:
        clauses.append("created_at < ?")
        params.append(sqlite_time(until))
    for name, value in (where or {}).items():
        clauses.append(f"{_dimension(name)} = ?")
        params.append(value)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


class SqliteLedgerStore:
    """A LedgerStore on one SQLite file. ``create=False`` opens an existing file only (the CLI)."""

    def __init__(self, path: str | Path, table: str = "llm_usage", *, create: bool = True) -> None:
        self.path = Path(path)
        self.table = table
        self._thread = SqliteThread(path, create=create, thread_name="llmgateway-ledger", schema=self._schema)
        self._call = self._thread.call
        self._db = self._thread.db

    def _schema(self, connection: sqlite3.Connection) -> None:
        connection.execute("PRAGMA synchronous = NORMAL")
        connection.execute(f'CREATE TABLE IF NOT EXISTS "{self.table}" ({_COLUMNS})')
        for column in ("created_at", "key", "model"):
            connection.execute(
                f'CREATE INDEX IF NOT EXISTS "{self.table}_{column}_idx" ON "{self.table}" ("{column}")'
            )

    # -- writes ---------------------------------------------------------------------------------
    def _write(self, records: Sequence[UsageRecord]) -> None:
        # Rows are built here, in the worker thread, to keep the event loop free.
        rows = [_row(r) for r in records]
        db = self._db()
        marks = ", ".join("?" * _INSERT_COUNT)
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(f'INSERT OR IGNORE INTO "{self.table}" VALUES ({marks})', rows)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    async def write(self, records: Sequence[UsageRecord]) -> None:
        if records:
            await self._call(self._write, list(records))

    # -- reads ----------------------------------------------------------------------------------
    def _grouped(
        self, dims: list[str], where_sql: str, params: list[Any]
    ) -> dict[tuple[Any, ...], UsageTotal]:
        """Sums per distinct value of the SQL expressions ``dims`` (currency is appended), keyed by
        those values; each total's ``group`` is left for the caller to fill."""
        db = self._db()
        dims = [*dims, "currency"]
        select = ", ".join(dims)
        query = (
            f"SELECT {select}, COUNT(*), SUM(outcome != 'ok'), SUM(cache = 'hit'), SUM(prompt_tokens), "
            f"SUM(completion_tokens), SUM(cost_total_units), SUM(cost_total_units IS NULL) "
            f'FROM "{self.table}"{where_sql} GROUP BY {select}'
        )
        try:
            rows = db.execute(query, params).fetchall()
            overflow = False
        except sqlite3.OperationalError as exc:
            if "overflow" not in str(exc):
                raise
            # A group's units passed 64 bits: sum every row's exact text in Python instead.
            rows = db.execute(query.replace("SUM(cost_total_units)", "0"), params).fetchall()
            overflow = True
        width = len(dims)
        totals: dict[tuple[Any, ...], UsageTotal] = {}
        inexact = False
        for row in rows:
            group = row[:width]
            calls, errors, hits, prompt, completion, units, missing = row[width:]
            totals[group] = UsageTotal(
                group={},
                calls=calls,
                errors=errors,
                cache_hits=hits,
                prompt_tokens=prompt,
                completion_tokens=completion,
                cost=from_units(units or 0),
                currency=group[-1],
            )
            inexact = inexact or bool(missing)
        if inexact or overflow:
            condition = "" if overflow else "cost_total_units IS NULL"
            if condition:
                condition = (" AND " if where_sql else " WHERE ") + condition
            query = f'SELECT {select}, cost_total FROM "{self.table}"{where_sql}{condition}'
            extra = db.execute(query, params)
            for row in extra:
                total = totals[row[:width]]
                total.cost = EXACT.add(total.cost, Decimal(row[width]))
        return totals

    def _totals(self, group_by: Sequence[str], where_sql: str, params: list[Any]) -> list[UsageTotal]:
        totals = self._grouped([_dimension(name) for name in group_by], where_sql, params)
        for key, total in totals.items():
            total.group = dict(zip(group_by, key[:-1], strict=True))
        return in_group_order(totals.values())

    async def totals(
        self,
        group_by: Sequence[str],
        since: datetime | None = None,
        until: datetime | None = None,
        where: Mapping[str, str] | None = None,
    ) -> list[UsageTotal]:
        check_dimensions(group_by, where)
        where_sql, params = _filters(since, until, where)
        return await self._call(self._totals, list(group_by), where_sql, params)

    async def spent(
        self, column: SpentColumn | None, value: str | None, since: datetime | None = None
    ) -> Decimal:
        return await spent_from_totals(self, column, value, since)

    # -- dashboard reads --------------------------------------------------------------------------
    def _timeseries(
        self, bucket_seconds: int, group_by: str | None, where_sql: str, params: list[Any]
    ) -> list[UsageBucket]:
        # Seconds since the epoch of the stored fixed-width text, rounded down to the bucket.
        bucket = f"(CAST(strftime('%s', substr(created_at, 1, 19)) AS INTEGER) / {bucket_seconds})"
        dims = [bucket] + ([_dimension(group_by)] if group_by else [])
        buckets = [
            UsageBucket(
                start=datetime.fromtimestamp(key[0] * bucket_seconds, timezone.utc),
                group=key[1] if group_by else None,
                calls=total.calls,
                errors=total.errors,
                cache_hits=total.cache_hits,
                prompt_tokens=total.prompt_tokens,
                completion_tokens=total.completion_tokens,
                cost=total.cost,
                currency=total.currency,
            )
            for key, total in self._grouped(dims, where_sql, params).items()
        ]
        return in_time_order(buckets)

    async def timeseries(
        self,
        bucket_seconds: int,
        since: datetime,
        until: datetime | None = None,
        group_by: str | None = None,
    ) -> list[UsageBucket]:
        check_bucket(bucket_seconds, group_by)
        where_sql, params = _filters(since, until, None)
        return await self._call(self._timeseries, int(bucket_seconds), group_by, where_sql, params)

    def _recent(self, limit: int) -> list[UsageRecord]:
        columns = ", ".join(f'"{name}"' for name in FIELD_NAMES)
        query = f'SELECT {columns} FROM "{self.table}" ORDER BY created_at DESC, id LIMIT ?'
        return [_record(row) for row in self._db().execute(query, (limit,))]

    async def recent(self, limit: int) -> list[UsageRecord]:
        if limit < 1:
            return []
        return await self._call(self._recent, int(limit))

    # -- lifecycle ------------------------------------------------------------------------------
    async def aclose(self) -> None:
        await self._thread.close()
