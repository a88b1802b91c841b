"""In-process LRU with per-entry expiry. Entries are kept as objects: a hit costs a dict lookup."""

from __future__ import annotations

import time
from collections import OrderedDict

from llmgateway.cache.entry import CacheEntry


class MemoryCache:
    def __init__(self, max_entries: int = 10_000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        # key -> (entry, expires_at or None), least recently used first.
        self._items: OrderedDict[str, tuple[CacheEntry, float | None]] = OrderedDict()

    async def get(self, key: str) -> CacheEntry | None:
        item = self._items.get(key)
        if item is None:
            return None
        entry, expires_at = item
        if expires_at is not None and expires_at <= time.monotonic():
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return entry

    async def set(self, key: str, entry: CacheEntry, ttl: float | None) -> None:
        expires_at = time.monotonic() + ttl if ttl is not None else None
        self._items[key] = (entry, expires_at)
        self._items.move_to_end(key)
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)

    async def delete(self, key: str) -> None:
        self._items.pop(key, None)

    async def aclose(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
