"""The contract every backend meets (memory, SQLite, real Redis), then each one's own behaviour."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from llmgateway.cache.backend import CacheBackend
from llmgateway.cache.memory import MemoryCache
from llmgateway.cache.redis_cache import RedisCache
from llmgateway.cache.sqlite import SQLiteCache
from tests.cache.payloads import COST, entry


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[CacheBackend]:
    cache: CacheBackend
    if request.param == "memory":
        cache = MemoryCache(100)
    elif request.param == "sqlite":
        cache = SQLiteCache(tmp_path / "cache.sqlite")
    else:
        url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")
        cache = RedisCache(url, prefix=prefix)
    yield cache
    await cache.aclose()
    if request.param == "redis":
        await _drop_keys(url, prefix)


async def _drop_keys(url: str, prefix: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    keys = [k async for k in client.scan_iter(match=prefix + "*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_get_set_delete(backend: CacheBackend) -> None:
    assert await backend.get("k") is None
    await backend.set("k", entry("one"), ttl=None)
    found = await backend.get("k")
    assert found is not None and found.response().text() == "one" and found.cost == COST
    await backend.set("k", entry("two"), ttl=60)
    found = await backend.get("k")
    assert found is not None and found.response().text() == "two"
    await backend.delete("k")
    assert await backend.get("k") is None


async def test_ttl_expires(backend: CacheBackend) -> None:
    await backend.set("short", entry(), ttl=0.05)
    await backend.set("long", entry(), ttl=60)
    assert await backend.get("short") is not None
    await asyncio.sleep(0.15)
    assert await backend.get("short") is None
    assert await backend.get("long") is not None


async def test_concurrent_writers_and_readers(backend: CacheBackend) -> None:
    async def worker(n: int) -> None:
        for i in range(20):
            await backend.set(f"k{n}-{i}", entry(f"{n}-{i}"), ttl=None)
            found = await backend.get(f"k{n}-{i // 2}")
            assert found is not None

    await asyncio.gather(*(worker(n) for n in range(4)))
    for n in range(4):
        for i in range(20):
            found = await backend.get(f"k{n}-{i}")
            assert found is not None and found.response().text() == f"{n}-{i}"


# -- memory ------------------------------------------------------------------------------------


async def test_memory_lru_evicts_least_recently_used() -> None:
    cache = MemoryCache(max_entries=2)
    await cache.set("a", entry("a"), None)
    await cache.set("b", entry("b"), None)
    assert await cache.get("a") is not None  # a is now more recent than b
    await cache.set("c", entry("c"), None)
    assert await cache.get("b") is None
    assert await cache.get("a") is not None and await cache.get("c") is not None
    assert len(cache) == 2


# -- sqlite ------------------------------------------------------------------------------------


async def test_sqlite_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "cache.sqlite"
    first = SQLiteCache(path)
    await first.set("k", entry("kept"), ttl=None)
    await first.set("gone", entry(), ttl=0.01)
    await first.aclose()  # commits pending writes
    second = SQLiteCache(path)
    try:
        found = await second.get("k")
        assert found is not None and found.response().text() == "kept" and found.cost == COST
        await asyncio.sleep(0.05)
        assert await second.get("gone") is None
    finally:
        await second.aclose()


async def test_sqlite_two_instances_share_the_file(tmp_path: Path) -> None:
    writer, reader = SQLiteCache(tmp_path / "c.sqlite"), SQLiteCache(tmp_path / "c.sqlite")
    try:
        await writer.set("k", entry("shared"), ttl=None)
        await writer.flush()
        found = await reader.get("k")
        assert found is not None and found.response().text() == "shared"
        await writer.delete("k")
        await writer.flush()
        assert await reader.get("k") is None
    finally:
        await writer.aclose()
        await reader.aclose()


async def test_sqlite_prunes_expired_and_oldest(tmp_path: Path) -> None:
    cache = SQLiteCache(tmp_path / "c.sqlite", max_entries=5)
    try:
        for i in range(8):
            await cache.set(f"k{i}", entry(), ttl=None)
        await cache.set("expired", entry(), ttl=0.01)
        await cache.flush()
        await asyncio.sleep(0.03)
        cache.prune_now()
        import sqlite3

        with sqlite3.connect(tmp_path / "c.sqlite") as db:
            keys = {k for (k,) in db.execute("SELECT key FROM llmgateway_cache")}
        assert "expired" not in keys and len(keys) <= 5
        assert {"k7", "k6"} <= keys  # the newest stay
    finally:
        await cache.aclose()


async def test_sqlite_from_another_event_loop_and_threads(tmp_path: Path) -> None:
    cache = SQLiteCache(tmp_path / "c.sqlite")
    await cache.set("k", entry("x"), ttl=None)

    def in_new_loop() -> str:
        async def read() -> str:
            found = await cache.get("k")
            await cache.set("k2", entry("from another loop"), ttl=None)
            return found.response().text() if found else ""

        return asyncio.run(read())

    results = await asyncio.gather(*(asyncio.to_thread(in_new_loop) for _ in range(4)))
    assert results == ["x"] * 4
    await cache.aclose()
    reopened = SQLiteCache(tmp_path / "c.sqlite")
    found = await reopened.get("k2")
    assert found is not None and found.response().text() == "from another loop"
    await reopened.aclose()


async def test_sqlite_usable_after_close(tmp_path: Path) -> None:
    cache = SQLiteCache(tmp_path / "c.sqlite")
    await cache.aclose()
    await cache.set("k", entry(), ttl=None)
    assert await cache.get("k") is not None
    await cache.aclose()


def test_sqlite_unwritable_path_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    with pytest.raises(OSError, match=r"cache\.path"):
        SQLiteCache(tmp_path / "dir")


# -- redis -------------------------------------------------------------------------------------


async def test_redis_sets_a_px_expiry(redis_url: str, redis_prefix: str) -> None:
    from redis.asyncio import Redis

    cache = RedisCache(redis_url, prefix=redis_prefix)
    client = Redis.from_url(redis_url)
    try:
        await cache.set("k", entry(), ttl=30)
        await cache.set("forever", entry(), ttl=None)
        assert 0 < await client.pttl(redis_prefix + "k") <= 30_000
        assert await client.pttl(redis_prefix + "forever") == -1
    finally:
        await client.delete(redis_prefix + "k", redis_prefix + "forever")
        await client.aclose()
        await cache.aclose()


def test_redis_from_a_new_event_loop(redis_url: str, redis_prefix: str) -> None:
    cache = RedisCache(redis_url, prefix=redis_prefix)

    async def write() -> None:
        await cache.set("k", entry("loop one"), ttl=30)

    async def read_and_close() -> str:
        found = await cache.get("k")
        await cache.delete("k")
        await cache.aclose()
        return found.response().text() if found else ""

    asyncio.run(write())
    assert asyncio.run(read_and_close()) == "loop one"
