"""Virtual keys in one SQLite file (one host), used from one dedicated worker thread."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from llmgateway.server.keys.model import KeyRecord, KeySpec, utcnow
from llmgateway.server.keys.store import COLUMNS, columns_of, mint, record_of, update_columns

T = TypeVar("T")

_SCHEMA = (
    "id TEXT PRIMARY KEY, secret_hash TEXT NOT NULL, name TEXT NOT NULL, team TEXT, "
    "models TEXT NOT NULL, rpm REAL, tpm REAL, budget_hard TEXT, budget_soft TEXT, "
    "budget_period TEXT, budget_currency TEXT, expires_at TEXT, created_at TEXT NOT NULL, "
    "revoked_at TEXT, metadata TEXT NOT NULL"
)
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
        self._create = create
        self._executor: ThreadPoolExecutor | None = None
        self._connection: sqlite3.Connection | None = None
        self._select = f'SELECT {", ".join(COLUMNS)} FROM "{table}"'

    async def _call(self, function: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            # One thread owns the connection: sqlite3 objects stay in the thread that made them.
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llmgateway-keys")
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    def _db(self) -> sqlite3.Connection:
        if self._connection is not None:
            return self._connection
        if self._create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, isolation_level=None)
        else:
            uri = f"{self.path.resolve().as_uri()}?mode=rw"  # never create a file just to read it
            connection = sqlite3.connect(uri, uri=True, isolation_level=None)
        connection.execute("PRAGMA busy_timeout = 10000")
        if self._create:
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute(f'CREATE TABLE IF NOT EXISTS "{self.table}" ({_SCHEMA})')
        self._connection = connection
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

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def aclose(self) -> None:
        if self._executor is None:
            return
        await self._call(self._close)
        self._executor.shutdown(wait=False)
        self._executor = None
