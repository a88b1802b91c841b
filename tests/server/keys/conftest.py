"""Key stores to test against: a SQLite file and the real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import pytest

from llmgateway.server.keys.postgres_store import PostgresKeyStore
from llmgateway.server.keys.sqlite_store import SqliteKeyStore
from llmgateway.server.keys.store import KeyStore
from tests.server.keys.cli_harness import config  # noqa: F401  (the fixture, for the keys CLI tests)


@pytest.fixture
async def sqlite_key_store(tmp_path: Path) -> AsyncIterator[KeyStore]:
    store = SqliteKeyStore(tmp_path / "keys.sqlite", "test_keys")
    yield store
    await store.aclose()


@pytest.fixture
async def postgres_key_store(postgres_dsn: str) -> AsyncIterator[KeyStore]:
    store = PostgresKeyStore(postgres_dsn, "test_keys")
    yield store
    await store.aclose()


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest) -> KeyStore:
    return cast(KeyStore, request.getfixturevalue(f"{request.param}_key_store"))
