"""ResponseCache: the gateway's cache step. ``lookup`` before routing, ``store`` after a complete,
successful answer.

Only deterministic requests are cached unless configured otherwise (see ``keys.is_deterministic``).
An answer cut short by ``max_tokens`` (finish_reason "length") is cached like any other: the same
deterministic request with the same cap gets the same truncated answer from the upstream too.
The cache is best effort: a backend failure (Redis down, disk full) is logged and counts as a miss,
it never fails the request.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from llmgateway.cache.backend import CacheBackend
from llmgateway.cache.control import CacheControl
from llmgateway.cache.entry import CachedResponse, CacheEntry
from llmgateway.cache.keys import RequestKey, RequestKind, is_deterministic, request_key
from llmgateway.cache.semantic import Embedder, SemanticIndex, Vector, bundled_embedder, request_text
from llmgateway.cache.settings import CacheConfig
from llmgateway.types import ChatCompletionChunk, Cost

log = logging.getLogger(__name__)

LookupStatus = Literal["hit", "miss", "skip", "refresh", "off", "no-store"]
_DEFAULT_CONTROL = CacheControl()


@dataclass(slots=True)
class CacheLookup:
    """What the cache said about one request. ``status``: hit; miss; skip / refresh / no-store (the
    request's cache control: skip never reads or writes, refresh writes without reading, no-store
    reports a miss it will not store); off (not cacheable: not deterministic).
    ``key``: this request's exact key. ``semantic``: the hit came from a similar request, stored
    under ``matched_key``."""

    status: LookupStatus
    key: str | None = None
    entry: CacheEntry | None = None
    semantic: bool = False
    matched_key: str | None = None
    kind: RequestKind = "chat"
    write: bool = False
    ttl: float | None = None
    namespace: str | None = None
    partition: str | None = None
    text: str | None = None
    vector: Vector = None

    @property
    def hit(self) -> bool:
        return self.entry is not None


class ResponseCache:
    def __init__(
        self, config: CacheConfig, embedder: Embedder | None = None, backend: CacheBackend | None = None
    ) -> None:
        self.config = config
        self.backend: CacheBackend = backend if backend is not None else build_backend(config)
        self.semantic: SemanticIndex | None = None
        if config.semantic.enabled:
            self.semantic = SemanticIndex(
                embedder or bundled_embedder(),
                threshold=config.semantic.threshold,
                max_entries=config.semantic.max_entries,
            )

    async def lookup(
        self,
        kind: RequestKind,
        request: BaseModel | Mapping[str, Any],
        control: CacheControl = _DEFAULT_CONTROL,
        partition: str | None = None,
    ) -> CacheLookup:
        """``partition``: whose answers these are (a key or team id, per ``cache.scope``); a
        request never sees another partition's entries, exact or similar."""
        if control.mode == "skip":
            return CacheLookup("skip", kind=kind)
        rk = request_key(kind, request)
        if not (self.config.cache_nondeterministic or is_deterministic(kind, rk.fields)):
            return CacheLookup("off", kind=kind)
        ttl = control.ttl if control.ttl is not None else self.config.ttl_seconds
        key = rk.key if partition is None else f"{partition}|{rk.key}"
        lookup = CacheLookup("miss", key, kind=kind, write=control.writes, ttl=ttl, partition=partition)
        if control.mode == "refresh":
            lookup.status = "refresh"
            self._prepare_semantic(lookup, rk)
            return lookup
        entry = await self._get(key)
        if entry is not None:
            lookup.status, lookup.entry, lookup.write = "hit", entry, False
            return lookup
        if control.mode == "no-store":
            lookup.status = "no-store"
        if self._prepare_semantic(lookup, rk):
            await self._semantic_lookup(lookup)
        return lookup

    def _prepare_semantic(self, lookup: CacheLookup, rk: RequestKey) -> bool:
        if self.semantic is None or rk.kind == "embedding":
            return False
        namespace = rk.namespace()
        lookup.namespace = namespace if lookup.partition is None else f"{lookup.partition}|{namespace}"
        lookup.text = request_text(rk.kind, rk.fields)
        return True

    async def _semantic_lookup(self, lookup: CacheLookup) -> None:
        assert self.semantic is not None and lookup.namespace is not None and lookup.text is not None
        if not self.semantic.has(lookup.namespace):
            return  # nothing to compare with: embed only if the answer gets stored
        try:
            lookup.vector = await self.semantic.embed(lookup.text)
        except Exception as exc:
            log.warning("semantic cache: embedding failed, exact match only (%s)", exc)
            return
        near = self.semantic.nearest_vector(lookup.namespace, lookup.vector)
        entry = await self._get(near) if near is not None else None
        if entry is not None:
            lookup.status, lookup.entry, lookup.write = "hit", entry, False
            lookup.semantic, lookup.matched_key = True, near

    async def _get(self, key: str) -> CacheEntry | None:
        try:
            return await self.backend.get(key)
        except Exception as exc:
            log.warning("response cache: lookup failed, treated as a miss (%s: %s)", type(exc).__name__, exc)
            return None

    async def store(
        self,
        lookup: CacheLookup,
        response: CachedResponse | None,
        *,
        deployment: str,
        provider: str,
        cost: Cost,
        chunks: Sequence[ChatCompletionChunk] | None = None,
    ) -> None:
        """Keep a complete, successful answer if the lookup said to (a miss or a refresh of a
        cacheable request). A streamed answer passes its chunks (the response may then be None)."""
        if not lookup.write or lookup.key is None:
            return
        try:
            entry = CacheEntry.from_response(
                lookup.kind, response, deployment=deployment, provider=provider, cost=cost, chunks=chunks
            )
            await self.backend.set(lookup.key, entry, lookup.ttl)
        except Exception as exc:
            log.warning("response cache: store failed (%s: %s)", type(exc).__name__, exc)
            return
        if self.semantic is not None and lookup.namespace is not None and lookup.text is not None:
            try:
                vector = lookup.vector
                if vector is None:
                    vector = await self.semantic.embed(lookup.text)
                self.semantic.add_vector(lookup.namespace, vector, lookup.key)
            except Exception as exc:
                log.warning("semantic cache: embedding failed, stored for exact match only (%s)", exc)

    async def aclose(self) -> None:
        await self.backend.aclose()


def build_backend(config: CacheConfig) -> CacheBackend:
    if config.backend == "memory":
        from llmgateway.cache.memory import MemoryCache

        return MemoryCache(config.max_entries)
    if config.backend == "sqlite":
        from llmgateway.cache.sqlite import SQLiteCache

        return SQLiteCache(config.path, max_entries=config.max_entries)
    from llmgateway.cache.redis_cache import RedisCache

    assert config.redis_url is not None  # the config validates it
    return RedisCache(config.redis_url, prefix=config.prefix)


def build_response_cache(config: CacheConfig, embedder: Embedder | None = None) -> ResponseCache:
    return ResponseCache(config, embedder)
