"""A key's own PII mode: stored by both stores, changed and cleared by update, passed to its
Caller; key tables made before the pii column get it on open (SQLite and PostgreSQL)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from llmgateway.errors import BadRequestError
from llmgateway.server.keys.postgres_store import PostgresKeyStore
from llmgateway.server.keys.sqlite_store import SqliteKeyStore
from llmgateway.server.keys.store import KeyStore

# The key table as the first release made it (no pii column), one row in it.
_OLD_SQLITE = (
    "id TEXT PRIMARY KEY, secret_hash TEXT NOT NULL, name TEXT NOT NULL, team TEXT, "
    "models TEXT NOT NULL, rpm REAL, tpm REAL, budget_hard TEXT, budget_soft TEXT, "
    "budget_period TEXT, budget_currency TEXT, expires_at TEXT, created_at TEXT NOT NULL, "
    "revoked_at TEXT, metadata TEXT NOT NULL"
)
_OLD_POSTGRES = (
    "id text PRIMARY KEY, secret_hash text NOT NULL, name text NOT NULL, team text, models jsonb NOT NULL, "
    "rpm double precision, tpm double precision, budget_hard numeric, budget_soft numeric, "
    "budget_period text, budget_currency text, expires_at timestamptz, created_at timestamptz NOT NULL, "
    "revoked_at timestamptz, metadata jsonb NOT NULL"
)


async def test_pii_round_trip(store: KeyStore) -> None:
    record, _ = await store.create({"name": "p", "pii": "block"})
    assert record.pii == "block" and record.public()["pii"] == "block"
    assert record.principal().caller.pii == "block"
    stored = await store.get(record.id)
    assert stored is not None and stored.pii == "block"
    changed = await store.update(record.id, pii="redact")
    assert changed is not None and changed.pii == "redact"
    cleared = await store.update(record.id, pii=None)
    assert cleared is not None and cleared.pii is None and cleared.principal().caller.pii is None
    plain, _ = await store.create({"name": "q"})
    assert plain.pii is None and (await store.list())[1].pii is None
    with pytest.raises(BadRequestError, match="pii"):
        await store.update(record.id, pii="mask")


@pytest.mark.parametrize("create", [True, False])
async def test_sqlite_table_without_pii_is_migrated(tmp_path: Path, create: bool) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(f"CREATE TABLE llm_keys ({_OLD_SQLITE})")
        db.execute(
            "INSERT INTO llm_keys VALUES ('abcdefghijkl', 'h', 'old', NULL, '[]', NULL, NULL, NULL, NULL, "
            "NULL, NULL, NULL, '2025-01-01T00:00:00+00:00', NULL, '{}')"
        )
    db.close()
    store = SqliteKeyStore(path, create=create)
    try:
        [old] = await store.list()
        assert old.name == "old" and old.pii is None
        changed = await store.update("abcdefghijkl", pii="redact")
        assert changed is not None and changed.pii == "redact"
    finally:
        await store.aclose()
    columns = [row[1] for row in sqlite3.connect(path).execute("PRAGMA table_info(llm_keys)")]
    assert columns[-1] == "pii"
    again = SqliteKeyStore(path)  # a second open finds the column there and adds nothing
    try:
        reopened = await again.get("abcdefghijkl")
        assert reopened is not None and reopened.pii == "redact"
    finally:
        await again.aclose()


@pytest.mark.parametrize("create", [True, False])
async def test_postgres_table_without_pii_is_migrated(postgres_dsn: str, create: bool) -> None:
    import asyncpg

    connection = await asyncpg.connect(postgres_dsn)
    try:
        await connection.execute(f"CREATE TABLE old_keys ({_OLD_POSTGRES})")
        await connection.execute(
            "INSERT INTO old_keys VALUES ('abcdefghijkl', 'h', 'old', NULL, '[]', NULL, NULL, NULL, NULL, "
            "NULL, NULL, NULL, now(), NULL, '{}')"
        )
        store = PostgresKeyStore(postgres_dsn, "old_keys", create=create)
        try:
            [old] = await store.list()
            assert old.name == "old" and old.pii is None
            changed = await store.update("abcdefghijkl", pii="block")
            assert changed is not None and changed.pii == "block"
        finally:
            await store.aclose()
        columns = await connection.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'old_keys' "
            "AND table_schema = current_schema()"
        )
        assert "pii" in {row["column_name"] for row in columns}
        again = PostgresKeyStore(postgres_dsn, "old_keys")
        try:
            reopened = await again.get("abcdefghijkl")
            assert reopened is not None and reopened.pii == "block"
        finally:
            await again.aclose()
    finally:
        await connection.close()
