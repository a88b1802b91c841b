"""Semantic index and semantic hits: a fast fake embedder, then one test with the bundled model."""

from __future__ import annotations

import re
import zlib

import pytest

from llmgateway.cache.control import CacheControl
from llmgateway.cache.response_cache import ResponseCache, build_response_cache
from llmgateway.cache.semantic import SemanticIndex, request_text
from llmgateway.cache.settings import CacheConfig, SemanticCacheConfig
from tests.cache.payloads import COST, chat_request, completion


class BagOfWords:
    """Texts with the same words (any case or punctuation) embed identically; counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        vectors = []
        for text in texts:
            vector = [0.0] * 64
            for word in re.findall(r"[a-z]+", text.lower()):
                vector[zlib.crc32(word.encode()) % 64] += 1.0
            vectors.append(vector)
        return vectors


def semantic_cache(embedder: object, threshold: float = 0.95) -> ResponseCache:
    config = CacheConfig(backend="memory", semantic=SemanticCacheConfig(enabled=True, threshold=threshold))
    return build_response_cache(config, embedder)  # type: ignore[arg-type]


async def test_index_nearest_within_namespace_only() -> None:
    index = SemanticIndex(BagOfWords(), threshold=0.9)
    assert await index.nearest("ns", "hello world") is None
    await index.add("ns", "Hello, world!", "k1")
    await index.add("ns", "bake bread at home", "k2")
    assert await index.nearest("ns", "hello WORLD") == "k1"
    assert await index.nearest("ns", "bread bake at home") == "k2"
    assert await index.nearest("ns", "something else entirely") is None
    assert await index.nearest("other", "hello world") is None


async def test_index_is_bounded_and_drops_oldest() -> None:
    index = SemanticIndex(BagOfWords(), threshold=0.99, max_entries=10)
    for i in range(25):
        await index.add(f"ns{i % 2}", f"text number {'x' * (i + 1)} {i}", f"k{i}")
    assert len(index) <= 10
    assert await index.nearest("ns0", f"text number {'x' * 25} 24") == "k24"
    assert await index.nearest("ns1", f"text number {'x' * 2} 1") is None  # long gone
    await index.add("ns0", f"text number {'x' * 25} 24", "k24")  # the same key again: not duplicated
    assert len(index) <= 10


def test_request_text_is_the_conversation() -> None:
    fields = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [{"type": "text", "text": "Hi"}, {"type": "image_url", "image_url": {"url": "x"}}],
            },
        ]
    }
    assert request_text("chat", fields) == "system: Be brief.\nuser: Hi"
    assert request_text("completion", {"prompt": "Once upon"}) == "Once upon"


async def test_paraphrase_hits_and_other_parameters_never_match() -> None:
    embedder = BagOfWords()
    cache = semantic_cache(embedder)
    first = await cache.lookup("chat", chat_request("What is the capital of France?"))
    assert first.status == "miss" and embedder.calls == 0  # nothing to compare with yet
    await cache.store(first, completion("Paris."), deployment="d", provider="p", cost=COST)
    assert embedder.calls == 1

    similar = await cache.lookup("chat", chat_request("what is THE capital of france"))
    assert similar.status == "hit" and similar.semantic and similar.matched_key == first.key != similar.key
    assert similar.entry is not None and similar.entry.response().text() == "Paris."  # type: ignore[union-attr]

    other_params = await cache.lookup("chat", chat_request("what is THE capital of france", max_tokens=5))
    assert other_params.status == "miss"
    other_topic = await cache.lookup("chat", chat_request("How do I bake bread?"))
    assert other_topic.status == "miss"
    # the miss's embedding is reused when it is stored: one more call, not two
    calls = embedder.calls
    await cache.store(other_topic, completion("Knead."), deployment="d", provider="p", cost=COST)
    assert embedder.calls == calls


async def test_skip_and_refresh_do_not_read_semantically() -> None:
    cache = semantic_cache(BagOfWords())
    lookup = await cache.lookup("chat", chat_request("hello there"))
    await cache.store(lookup, completion(), deployment="d", provider="p", cost=COST)
    assert (
        await cache.lookup("chat", chat_request("Hello there!"), CacheControl("refresh"))
    ).status == "refresh"
    assert (await cache.lookup("chat", chat_request("Hello there!"), CacheControl("skip"))).status == "skip"
    assert (await cache.lookup("chat", chat_request("Hello there!"), CacheControl("no-store"))).semantic


async def test_failing_embedder_falls_back_to_exact_match() -> None:
    async def broken(texts: list[str]) -> list[list[float]]:
        raise RuntimeError("no model")

    cache = semantic_cache(broken)
    lookup = await cache.lookup("chat", chat_request("hello"))
    await cache.store(lookup, completion(), deployment="d", provider="p", cost=COST)
    assert (await cache.lookup("chat", chat_request("hello"))).status == "hit"


@pytest.mark.model
async def test_bundled_embedder_paraphrases_hit_other_topics_miss() -> None:
    cache = build_response_cache(CacheConfig(backend="memory", semantic=SemanticCacheConfig(enabled=True)))
    assert cache.semantic is not None and cache.semantic.threshold == 0.95
    lookup = await cache.lookup("chat", chat_request("What is the capital of France?"))
    await cache.store(lookup, completion("Paris."), deployment="d", provider="p", cost=COST)

    for paraphrase in ("What's the capital city of France?", "Which city is the capital of France?"):
        hit = await cache.lookup("chat", chat_request(paraphrase))
        assert hit.status == "hit" and hit.semantic, paraphrase
    for other in ("What is the capital of Germany?", "How do I bake sourdough bread?"):
        assert (await cache.lookup("chat", chat_request(other))).status == "miss", other
    different_params = await cache.lookup("chat", chat_request("What's the capital city of France?", seed=1))
    assert different_params.status == "miss"
