"""Audit entries in one SQLite file (by default the key store's own file), from one worker thread."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

from llmgateway.audit.entry import AuditEntry, AuditQuery
from llmgateway.storage.sqlite_thread import SqliteThread

_COLUMNS = ("id", "time", "actor", "action", "target", "outcome", "details", "request_id", "source")
_SCHEMA = (
    "id TEXT PRIMARY KEY, time TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, "
    "target TEXT, outcome TEXT NOT NULL, details TEXT NOT NULL, request_id TEXT, source TEXT"
)


def _time_text(moment: datetime) -> str:
    # One fixed width (always microseconds, always +00:00), so text order is time order.
    return moment.isoformat(timespec="microseconds")


def _row(entry: AuditEntry) -> tuple[Any, ...]:
    return (
        entry.id, _time_text(entry.time), entry.actor, entry.action, entry.target, entry.outcome,
        json.dumps(dict(entry.details)), entry.request_id, entry.source,
    )  # fmt: skip


def _entry(row: tuple[Any, ...]) -> AuditEntry:
    values = dict(zip(_COLUMNS, row, strict=True))
    values["time"] = datetime.fromisoformat(values["time"])
    values["details"] = json.loads(values["details"])
    return AuditEntry(**values)


class SqliteAuditStore:
    """An AuditStore on one SQLite table. ``create=False`` opens an existing file only and never
    makes the table (a file without it has no entries yet)."""

    def __init__(self, path: str | Path, table: str = "llm_audit", *, create: bool = True) -> None:
        self.path = Path(path)
        self.table = table
        self._thread = SqliteThread(path, create=create, thread_name="llmgateway-audit", schema=self._schema)

    def _schema(self, connection: sqlite3.Connection) -> None:
        connection.execute(f'CREATE TABLE IF NOT EXISTS "{self.table}" ({_SCHEMA})')
        connection.execute(f'CREATE INDEX IF NOT EXISTS "{self.table}_time" ON "{self.table}" (time)')

    # -- in the worker thread ---------------------------------------------------------------------
    def _insert(self, entry: AuditEntry) -> None:
        marks = ", ".join("?" * len(_COLUMNS))
        self._thread.db().execute(
            f'INSERT INTO "{self.table}" ({", ".join(_COLUMNS)}) VALUES ({marks})', _row(entry)
        )

    def _select(self, query: AuditQuery) -> list[AuditEntry]:
        where: list[str] = []
        params: list[Any] = []
        for name in ("action", "actor", "target"):
            if (value := getattr(query, name)) is not None:
                where.append(f"{name} = ?")
                params.append(value)
        if query.since is not None:
            where.append("time >= ?")
            params.append(_time_text(query.since))
        if query.until is not None:
            where.append("time < ?")
            params.append(_time_text(query.until))
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        sql = (
            f'SELECT {", ".join(_COLUMNS)} FROM "{self.table}"{clause} ORDER BY time DESC, rowid DESC LIMIT ?'
        )
        try:
            rows = self._thread.db().execute(sql, [*params, query.limit]).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []  # opened read-only on a file where nothing was audited yet
            raise
        return [_entry(row) for row in rows]

    # -- AuditStore ---------------------------------------------------------------------------------
    async def append(self, entry: AuditEntry) -> None:
        await self._thread.call(self._insert, entry)

    async def query(self, query: AuditQuery) -> list[AuditEntry]:
        return await self._thread.call(self._select, query)

    async def aclose(self) -> None:
        await self._thread.close()
