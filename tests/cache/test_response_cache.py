"""ResponseCache: the modes, what is cacheable, streams, semantic hits, failures."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from llmgateway.cache.control import CacheControl
from llmgateway.cache.entry import CacheEntry
from llmgateway.cache.memory import MemoryCache
from llmgateway.cache.response_cache import ResponseCache, build_response_cache
from llmgateway.cache.settings import CacheConfig, SemanticCacheConfig
from llmgateway.types import ChatCompletion, EmbeddingRequest, EmbeddingResponse
from tests.cache.payloads import COST, chat_request, completion, stream_chunks


@pytest.fixture
async def cache() -> AsyncIterator[ResponseCache]:
    response_cache = build_response_cache(CacheConfig(backend="memory"))
    yield response_cache
    await response_cache.aclose()


async def answer(cache: ResponseCache, request: object, control: CacheControl = CacheControl()) -> str:
    """One call through the cache: the cached text on a hit, else store a fresh answer."""
    lookup = await cache.lookup("chat", request, control)  # type: ignore[arg-type]
    if lookup.entry is not None:
        return "hit:" + lookup.entry.response().text()  # type: ignore[union-attr]
    await cache.store(lookup, completion("fresh"), deployment="d1", provider="mock", cost=COST)
    return lookup.status


async def test_miss_then_hit_says_what_the_original_cost(cache: ResponseCache) -> None:
    assert await answer(cache, chat_request()) == "miss"
    lookup = await cache.lookup("chat", chat_request(user="someone else", stream=True))
    assert lookup.status == "hit" and not lookup.semantic and not lookup.write
    assert lookup.entry is not None
    assert (lookup.entry.deployment, lookup.entry.provider, lookup.entry.cost) == ("d1", "mock", COST)


async def test_non_deterministic_requests_are_off_unless_configured(cache: ResponseCache) -> None:
    assert await answer(cache, chat_request(temperature=0.8)) == "off"
    assert await answer(cache, chat_request(temperature=0.8)) == "off"
    assert await answer(cache, chat_request(temperature=0.8, seed=7)) == "miss"
    assert await answer(cache, chat_request(temperature=0.8, seed=7)) == "hit:fresh"
    everything = build_response_cache(CacheConfig(backend="memory", cache_nondeterministic=True))
    assert await answer(everything, chat_request(temperature=0.8)) == "miss"
    assert await answer(everything, chat_request(temperature=0.8)) == "hit:fresh"


async def test_modes(cache: ResponseCache) -> None:
    request = chat_request()
    assert await answer(cache, request, CacheControl("skip")) == "skip"
    assert await answer(cache, request, CacheControl("no-store")) == "no-store"
    assert await answer(cache, request) == "miss"  # neither skip nor no-store stored anything
    assert await answer(cache, request, CacheControl("no-store")) == "hit:fresh"  # no-store still reads
    assert await answer(cache, request, CacheControl("skip")) == "skip"

    lookup = await cache.lookup("chat", request, CacheControl("refresh"))
    assert lookup.status == "refresh" and lookup.entry is None and lookup.write
    await cache.store(lookup, completion("newer"), deployment="d2", provider="mock", cost=COST)
    assert await answer(cache, request) == "hit:newer"


async def test_per_request_ttl_overrides_config() -> None:
    backend = MemoryCache()
    seen: list[float | None] = []
    original = backend.set

    async def spy(key: str, entry: CacheEntry, ttl: float | None) -> None:
        seen.append(ttl)
        await original(key, entry, ttl)

    backend.set = spy  # type: ignore[method-assign]
    cache = ResponseCache(CacheConfig(backend="memory", ttl_seconds=100), backend=backend)
    await answer(cache, chat_request("a"))
    await answer(cache, chat_request("b"), CacheControl.parse("ttl=5"))
    assert seen == [100, 5.0]


async def test_streamed_answer_serves_both_shapes(cache: ResponseCache) -> None:
    lookup = await cache.lookup("chat", chat_request(stream=True))
    await cache.store(lookup, None, deployment="d1", provider="mock", cost=COST, chunks=stream_chunks())
    hit = await cache.lookup("chat", chat_request())
    assert hit.entry is not None and hit.entry.streamed
    assert hit.entry.chunks() == stream_chunks()
    plain = hit.entry.response()
    assert isinstance(plain, ChatCompletion) and plain.text() == "Paris."


async def test_embeddings_are_cached(cache: ResponseCache) -> None:
    request = EmbeddingRequest(model="e", input=["a", "b"])
    lookup = await cache.lookup("embedding", request)
    assert lookup.status == "miss"
    response = EmbeddingResponse.model_validate({"data": [{"index": 0, "embedding": [1.0]}], "model": "e"})
    await cache.store(lookup, response, deployment="d", provider="p", cost=COST)
    hit = await cache.lookup("embedding", EmbeddingRequest(model="e", input=["a", "b"], user="x"))
    assert hit.entry is not None and hit.entry.response() == response


class BrokenBackend:
    async def get(self, key: str) -> CacheEntry | None:
        raise ConnectionError("redis went away")

    async def set(self, key: str, entry: CacheEntry, ttl: float | None) -> None:
        raise ConnectionError("redis went away")

    async def delete(self, key: str) -> None:
        raise ConnectionError("redis went away")

    async def aclose(self) -> None:
        pass


async def test_a_failing_backend_is_a_logged_miss(caplog: pytest.LogCaptureFixture) -> None:
    cache = ResponseCache(CacheConfig(backend="memory"), backend=BrokenBackend())
    with caplog.at_level(logging.WARNING):
        assert await answer(cache, chat_request()) == "miss"
    assert "redis went away" in caplog.text


async def test_sqlite_config_end_to_end(tmp_path: Path) -> None:
    config = CacheConfig(path=str(tmp_path / "c.sqlite"))
    first = build_response_cache(config)
    assert await answer(first, chat_request()) == "miss"
    await first.aclose()
    second = build_response_cache(config)
    assert await answer(second, chat_request()) == "hit:fresh"
    await second.aclose()


async def test_redis_config_end_to_end(redis_url: str, redis_prefix: str) -> None:
    config = CacheConfig(backend="redis", redis_url=redis_url, prefix=redis_prefix, ttl_seconds=30)
    cache = build_response_cache(config)
    try:
        assert await answer(cache, chat_request()) == "miss"
        assert await answer(cache, chat_request()) == "hit:fresh"
    finally:
        await cache.aclose()


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="redis_url"):
        CacheConfig(backend="redis")
    with pytest.raises(ValueError):
        CacheConfig(semantic=SemanticCacheConfig(threshold=1.5))
    with pytest.raises(ValueError):
        CacheConfig(bogus=1)  # type: ignore[call-arg]
