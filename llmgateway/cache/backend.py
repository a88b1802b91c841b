"""The storage contract every cache backend meets."""

from __future__ import annotations

from typing import Protocol

from llmgateway.cache.entry import CacheEntry


class CacheBackend(Protocol):
    """``ttl``: seconds the entry lives; None: until evicted."""

    async def get(self, key: str) -> CacheEntry | None: ...

    async def set(self, key: str, entry: CacheEntry, ttl: float | None) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def aclose(self) -> None: ...
