"""Key store round trips on SQLite and the real PostgreSQL; the secret is never stored."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from llmgateway.errors import BadRequestError
from llmgateway.server.keys.model import KeyBudget
from llmgateway.server.keys.secrets import PREFIX, hash_secret, parse_key, secret_matches
from llmgateway.server.keys.sqlite_store import SqliteKeyStore
from llmgateway.server.keys.store import KeyStore

SPEC = {
    "name": "team-a app",
    "team": "research",
    "models": ["chat", "embed"],
    "rpm": 60,
    "tpm": 10000,
    "budget": {"hard": "10.50", "soft": "8", "period": "day", "currency": "eur"},
    "expires_in_days": 30,
    "metadata": {"owner": "ana", "tags": ["x"]},
}


async def test_create_get_list_round_trip(store: KeyStore) -> None:
    record, key = await store.create(SPEC)
    key_id, secret = parse_key(key) or ("", "")
    assert key.startswith(PREFIX) and key_id == record.id and len(secret) >= 43
    assert record.secret_hash == hash_secret(secret) and secret_matches(secret, record.secret_hash)
    assert record.budget == KeyBudget(hard=Decimal("10.50"), soft=Decimal(8), period="day", currency="EUR")
    assert record.expires_at is not None
    assert timedelta(days=29.9) < record.expires_at - datetime.now(timezone.utc) < timedelta(days=30.1)
    got = await store.get(record.id)
    assert got == record
    assert got.models == ("chat", "embed") and got.metadata == {"owner": "ana", "tags": ["x"]}
    assert got.expires_at is not None and got.expires_at.tzinfo is not None
    plain, _ = await store.create({"name": "plain"})
    assert plain.budget is None and plain.models == () and plain.expires_at is None
    assert [r.id for r in await store.list()] == [record.id, plain.id]
    assert await store.get("aaaaaaaaaaaa") is None


async def test_revoke_is_final_and_listed_only_on_request(store: KeyStore) -> None:
    record, _ = await store.create({"name": "k"})
    revoked = await store.revoke(record.id)
    assert revoked is not None and revoked.revoked_at is not None and revoked.status() == "revoked"
    again = await store.revoke(record.id)
    assert again is not None and again.revoked_at == revoked.revoked_at
    assert await store.list() == []
    assert [r.id for r in await store.list(include_revoked=True)] == [record.id]
    assert await store.revoke("aaaaaaaaaaaa") is None


async def test_update_changes_only_given_fields(store: KeyStore) -> None:
    record, _ = await store.create(SPEC)
    when = datetime(2030, 1, 1, tzinfo=timezone.utc)
    updated = await store.update(record.id, name="renamed", rpm=None, budget={"hard": 1}, expires_at=when)
    assert updated is not None
    assert (updated.name, updated.rpm, updated.tpm, updated.expires_at) == ("renamed", None, 10000, when)
    assert updated.budget == KeyBudget(hard=Decimal(1))
    assert updated.team == "research" and updated.secret_hash == record.secret_hash
    cleared = await store.update(record.id, budget=None, models=None, team=None, expires_at=None)
    assert cleared is not None and cleared.budget is None and cleared.models == () and cleared.team is None
    assert await store.get(record.id) == cleared
    assert await store.update("aaaaaaaaaaaa", name="x") is None
    with pytest.raises(BadRequestError, match="soft"):
        await store.update(record.id, budget={"hard": 1, "soft": 2})
    with pytest.raises(BadRequestError, match="colour"):
        await store.update(record.id, colour="red")


async def test_invalid_specs_are_refused_with_the_field_named(store: KeyStore) -> None:
    with pytest.raises(BadRequestError, match="name"):
        await store.create({"models": ["chat"]})
    with pytest.raises(BadRequestError, match="rpm"):
        await store.create({"name": "k", "rpm": 0})
    with pytest.raises(BadRequestError, match="time zone"):
        await store.create({"name": "k", "expires_at": "2030-01-01T00:00:00"})
    with pytest.raises(BadRequestError, match="not both"):
        await store.create({"name": "k", "expires_at": "2030-01-01T00:00:00Z", "expires_in_days": 1})
    with pytest.raises(BadRequestError, match="budget"):
        await store.create({"name": "k", "budget": {"period": "day"}})


async def test_the_secret_is_not_stored(tmp_path: Path) -> None:
    path = tmp_path / "keys.sqlite"
    store = SqliteKeyStore(path)
    try:
        _, key = await store.create(SPEC)
    finally:
        await store.aclose()
    _, secret = parse_key(key) or ("", "")
    data = await asyncio.to_thread(lambda: b"".join(p.read_bytes() for p in tmp_path.iterdir()))
    assert secret.encode() not in data and hash_secret(secret).encode() in data


async def test_postgres_secret_not_stored_and_replicas_share_keys(postgres_dsn: str) -> None:
    import asyncpg

    from llmgateway.server.keys.postgres_store import PostgresKeyStore

    one, two = PostgresKeyStore(postgres_dsn), PostgresKeyStore(postgres_dsn)
    try:
        # Two replicas creating the table at once.
        (record, key), _ = await asyncio.gather(one.create({"name": "a"}), two.list())
        assert await two.get(record.id) == record
        await two.revoke(record.id)
        seen = await one.get(record.id)
        assert seen is not None and seen.revoked_at is not None
    finally:
        await one.aclose()
        await two.aclose()
    _, secret = parse_key(key) or ("", "")
    connection = await asyncpg.connect(postgres_dsn)
    try:
        dump = str([tuple(r) for r in await connection.fetch("SELECT * FROM llm_keys")])
    finally:
        await connection.close()
    assert secret not in dump and hash_secret(secret) in dump
