"""Virtual keys in one SQLite file (one host), used from one dedicated worker thread."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from llmgateway.server.keys.model import KeyRecord, KeySpec, utcnow
from llmgateway.server.keys.store import COLUMNS, columns_of, mint, record_of, update_columns
from llmgateway.storage.sqlite_thread import SqliteThread

T = TypeVar("T")

_SCHEMA = (
    "id TEXT PRIMARY KEY, secret_hash TEXT NOT NULL, name TEXT NOT NULL, team TEXT, "
    "models TEXT NOT NULL, rpm REAL, tpm REAL, budget_hard TEXT, budget_soft TEXT, "
    "budget_period TEXT, budget_currency TEXT, expires_at TEXT, created_at TEXT NOT NULL, "
    "revoked_at TEXT, metadata TEXT NOT NULL, pii TEXT"
)
# Columns added after the first release: (name, type) added to older tables on open.
_ADDED = (("pii", "TEXT"),)
_JSON = ("models", "metadata")
_MONEY = ("budget_hard", "budget_soft")
_TIMES = ("expires_at", "created_at", "revoked_at")


def _to_sql(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in _JSON:
        return json.dumps(value)
    if name in _MONEY:
        return str(value)
    if name in _TIMES:
        return value.isoformat()
    return value


def _from_sql(row: tuple[Any, ...]) -> KeyRecord:
    values: dict[str, Any] = dict(zip(COLUMNS, row, strict=True))
    for name in COLUMNS:
        value = values[name]
        if value is None:
            continue
        if name in _JSON:
            values[name] = json.loads(value)
        elif name in _MONEY:
            values[name] = Decimal(value)
        elif name in _TIMES:
            values[name] = datetime.fromisoformat(value)
    return record_of(values)


class SqliteKeyStore:
    """A KeyStore on one SQLite file. ``create=False`` opens an existing file only."""

    def __init__(self, path: str | Path, table: str = "llm_keys", *, create: bool = True) -> None:
        self.path = Path(path)
        self.table = table
        self._thread = SqliteThread(path, create=create, thread_name="llmgateway-keys", schema=self._schema)
        self._call = self._thread.call
        self._migrated = False
        self._select = f'SELECT {", ".join(COLUMNS)} FROM "{table}"'

    def _schema(self, connection: sqlite3.Connection) -> None:
        connection.execute(f'CREATE TABLE IF NOT EXISTS "{self.table}" ({_SCHEMA})')

    def _migrate(self, connection: sqlite3.Connection) -> None:
        # Also when opened without create: the CLI reads and revokes through such a store, and
        # every SELECT names the new columns.
        rows = connection.execute(f'PRAGMA table_info("{self.table}")').fetchall()
        have = {row[1] for row in rows}
        if not have:
            return  # no table (yet): made with every column by _schema
        for name, kind in _ADDED:
            if name not in have:
                try:
                    connection.execute(f'ALTER TABLE "{self.table}" ADD COLUMN "{name}" {kind}')
                except sqlite3.OperationalError as exc:
                    if "duplicate column" not in str(exc):  # another process added it first
                        raise

    def _db(self) -> sqlite3.Connection:
        connection = self._thread.db()
        if not self._migrated:
            self._migrate(connection)
            self._migrated = True
        return connection

    # -- in the worker thread ---------------------------------------------------------------------
    def _insert(self, record: KeyRecord) -> None:
        values = columns_of(record)
        marks = ", ".join("?" * len(COLUMNS))
        self._db().execute(
            f'INSERT INTO "{self.table}" ({", ".join(COLUMNS)}) VALUES ({marks})',
            [_to_sql(name, values[name]) for name in COLUMNS],
        )

    def _get(self, key_id: str) -> KeyRecord | None:
        row = self._db().execute(f"{self._select} WHERE id = ?", (key_id,)).fetchone()
        return _from_sql(row) if row is not None else None

    def _list(self, include_revoked: bool) -> list[KeyRecord]:
        where = "" if include_revoked else " WHERE revoked_at IS NULL"
        rows = self._db().execute(f"{self._select}{where} ORDER BY created_at, id").fetchall()
        return [_from_sql(row) for row in rows]

    def _set(self, key_id: str, values: Mapping[str, Any], only_active: bool = False) -> KeyRecord | None:
        if values:
            assignments = ", ".join(f'"{name}" = ?' for name in values)
            guard = " AND revoked_at IS NULL" if only_active else ""
            self._db().execute(
                f'UPDATE "{self.table}" SET {assignments} WHERE id = ?{guard}',
                [*(_to_sql(name, value) for name, value in values.items()), key_id],
            )
        return self._get(key_id)

    # -- KeyStore -----------------------------------------------------------------------------------
    async def create(self, spec: KeySpec | Mapping[str, Any]) -> tuple[KeyRecord, str]:
        record, key = mint(spec)
        await self._call(self._insert, record)
        return record, key

    async def get(self, key_id: str) -> KeyRecord | None:
        return await self._call(self._get, key_id)

    async def list(self, include_revoked: bool = False) -> list[KeyRecord]:
        return await self._call(self._list, include_revoked)

    async def revoke(self, key_id: str) -> KeyRecord | None:
        return await self._call(self._set, key_id, {"revoked_at": utcnow()}, True)

    async def update(self, key_id: str, **fields: Any) -> KeyRecord | None:
        return await self._call(self._set, key_id, update_columns(fields))

    async def aclose(self) -> None:
        await self._thread.close()
