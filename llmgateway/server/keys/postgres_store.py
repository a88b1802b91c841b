"""Virtual keys in PostgreSQL, shared by every worker and host: an asyncpg pool made on first use.

Each replica caches what it read for ``keys.cache_seconds`` (see auth.py), so a revocation made
anywhere takes effect everywhere within that time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from llmgateway.server.keys.model import KeyRecord, KeySpec, utcnow
from llmgateway.server.keys.store import COLUMNS, columns_of, mint, record_of, update_columns
from llmgateway.storage.pg_pool import LazyPool

if TYPE_CHECKING:
    import asyncpg

_TYPES = {
    "id": "text PRIMARY KEY", "secret_hash": "text NOT NULL", "name": "text NOT NULL", "team": "text",
    "models": "jsonb NOT NULL", "rpm": "double precision", "tpm": "double precision",
    "budget_hard": "numeric", "budget_soft": "numeric", "budget_period": "text",
    "budget_currency": "text", "expires_at": "timestamptz", "created_at": "timestamptz NOT NULL",
    "revoked_at": "timestamptz", "metadata": "jsonb NOT NULL", "pii": "text",
}  # fmt: skip
# Columns added after the first release, added to older tables on open.
_ADDED = ("pii",)
_JSON = ("models", "metadata")


def _to_sql(name: str, value: Any) -> Any:
    # jsonb travels as text (asyncpg has no default jsonb codec).
    return json.dumps(value) if name in _JSON and value is not None else value


def _from_sql(row: Mapping[str, Any]) -> KeyRecord:
    values = dict(row)
    for name in _JSON:
        values[name] = json.loads(values[name])
    return record_of(values)


class PostgresKeyStore:
    """A KeyStore on one PostgreSQL table (created when missing, unless ``create=False``)."""

    def __init__(self, dsn: str, table: str = "llm_keys", *, create: bool = True, max_size: int = 4) -> None:
        self.dsn = dsn
        self.table = table
        self._create = create
        self._pool = LazyPool(dsn, max_size=max_size, setup=self._prepare)
        self._select = f'SELECT {", ".join(COLUMNS)} FROM "{table}"'

    async def _prepare(self, pool: asyncpg.Pool) -> None:
        """Make the table (when ``create``) and add columns an older table lacks (always: every
        SELECT names them, also from a store opened without ``create``)."""
        columns = ", ".join(f'"{name}" {_TYPES[name]}' for name in COLUMNS)
        async with pool.acquire() as connection, connection.transaction():
            # Replicas starting together would race on CREATE TABLE / ALTER TABLE.
            await connection.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"llmgateway:{self.table}")
            if self._create:
                await connection.execute(f'CREATE TABLE IF NOT EXISTS "{self.table}" ({columns})')
            # Look first: ALTER TABLE locks the table even when it changes nothing.
            have = await connection.fetch(
                "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 "
                "AND NOT attisdropped",
                f'"{self.table}"',
            )
            present = {row["attname"] for row in have}
            for name in _ADDED:
                if present and name not in present:
                    await connection.execute(
                        f'ALTER TABLE "{self.table}" ADD COLUMN IF NOT EXISTS "{name}" {_TYPES[name]}'
                    )

    async def create(self, spec: KeySpec | Mapping[str, Any]) -> tuple[KeyRecord, str]:
        record, key = mint(spec)
        values = columns_of(record)
        marks = ", ".join(f"${i}" for i in range(1, len(COLUMNS) + 1))
        pool = await self._pool.get()
        await pool.execute(
            f'INSERT INTO "{self.table}" ({", ".join(COLUMNS)}) VALUES ({marks})',
            *(_to_sql(name, values[name]) for name in COLUMNS),
        )
        return record, key

    async def get(self, key_id: str) -> KeyRecord | None:
        pool = await self._pool.get()
        row = await pool.fetchrow(f"{self._select} WHERE id = $1", key_id)
        return _from_sql(row) if row is not None else None

    async def list(self, include_revoked: bool = False) -> list[KeyRecord]:
        where = "" if include_revoked else " WHERE revoked_at IS NULL"
        pool = await self._pool.get()
        rows = await pool.fetch(f"{self._select}{where} ORDER BY created_at, id")
        return [_from_sql(row) for row in rows]

    async def _set(self, key_id: str, values: Mapping[str, Any], guard: str = "") -> KeyRecord | None:
        if not values:
            return await self.get(key_id)
        names = list(values)
        assignments = ", ".join(f'"{name}" = ${i}' for i, name in enumerate(names, start=2))
        pool = await self._pool.get()
        row = await pool.fetchrow(
            f'UPDATE "{self.table}" SET {assignments} WHERE id = $1{guard} RETURNING {", ".join(COLUMNS)}',
            key_id,
            *(_to_sql(name, values[name]) for name in names),
        )
        if row is None:
            return await self.get(key_id) if guard else None
        return _from_sql(row)

    async def revoke(self, key_id: str) -> KeyRecord | None:
        return await self._set(key_id, {"revoked_at": utcnow()}, " AND revoked_at IS NULL")

    async def update(self, key_id: str, **fields: Any) -> KeyRecord | None:
        return await self._set(key_id, update_columns(fields))

    async def aclose(self) -> None:
        await self._pool.close()
