"""Audit entries in PostgreSQL (by default the key store's database), shared by every replica."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from llmgateway.audit.entry import AuditEntry, AuditQuery
from llmgateway.storage.pg_pool import LazyPool

if TYPE_CHECKING:
    import asyncpg

_COLUMNS = ("id", "time", "actor", "action", "target", "outcome", "details", "request_id", "source")


def _entry(row: Mapping[str, Any]) -> AuditEntry:
    values = {name: row[name] for name in _COLUMNS}
    values["details"] = json.loads(values["details"])  # jsonb travels as text
    return AuditEntry(**values)


class PostgresAuditStore:
    """An AuditStore on one PostgreSQL table, made when missing unless ``create=False``. ``seq``
    orders entries written in the same microsecond."""

    def __init__(self, dsn: str, table: str = "llm_audit", *, create: bool = True, max_size: int = 2) -> None:
        self.dsn = dsn
        self.table = table
        self._pool = LazyPool(dsn, max_size=max_size, setup=self._create_table if create else None)

    async def _create_table(self, pool: asyncpg.Pool) -> None:
        async with pool.acquire() as connection, connection.transaction():
            # Replicas starting together would race on CREATE TABLE IF NOT EXISTS.
            await connection.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"llmgateway:{self.table}")
            await connection.execute(
                f'CREATE TABLE IF NOT EXISTS "{self.table}" (seq bigserial PRIMARY KEY, '
                "id text NOT NULL UNIQUE, time timestamptz NOT NULL, actor text NOT NULL, "
                "action text NOT NULL, target text, outcome text NOT NULL, details jsonb NOT NULL, "
                "request_id text, source text)"
            )
            await connection.execute(
                f'CREATE INDEX IF NOT EXISTS "{self.table}_time" ON "{self.table}" (time)'
            )

    async def append(self, entry: AuditEntry) -> None:
        pool = await self._pool.get()
        await pool.execute(
            f'INSERT INTO "{self.table}" ({", ".join(_COLUMNS)}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)',
            entry.id, entry.time, entry.actor, entry.action, entry.target, entry.outcome,
            json.dumps(dict(entry.details)), entry.request_id, entry.source,
        )  # fmt: skip

    async def query(self, query: AuditQuery) -> list[AuditEntry]:
        import asyncpg

        where: list[str] = []
        params: list[Any] = []
        for name, op, value in (
            ("action", "=", query.action), ("actor", "=", query.actor), ("target", "=", query.target),
            ("time", ">=", query.since), ("time", "<", query.until),
        ):  # fmt: skip
            if value is not None:
                params.append(value)
                where.append(f"{name} {op} ${len(params)}")
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        params.append(query.limit)
        sql = (
            f'SELECT {", ".join(_COLUMNS)} FROM "{self.table}"{clause} '
            f"ORDER BY time DESC, seq DESC LIMIT ${len(params)}"
        )
        pool = await self._pool.get()
        try:
            rows = await pool.fetch(sql, *params)
        except asyncpg.UndefinedTableError:
            return []  # opened with create=False where nothing was audited yet
        return [_entry(row) for row in rows]

    async def aclose(self) -> None:
        await self._pool.close()
