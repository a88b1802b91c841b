"""Redis cache: shared by every replica of the gateway. GET, and SET with PX expiry."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from llmgateway.cache.entry import CacheEntry

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)


class RedisCache:
    def __init__(self, url: str, *, prefix: str = "llmgw:cache:", **client_options: Any) -> None:
        self.url = url
        self.prefix = prefix
        self._options = client_options
        self._client: Redis | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _redis(self) -> Redis:
        # A redis.asyncio client belongs to the loop its connections were made on: a gateway used
        # from a new event loop (asyncio.run twice, a sync wrapper) gets a new client.
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            try:
                from redis.asyncio import Redis
            except ImportError as exc:
                raise ImportError(
                    "the Redis cache needs the redis package: pip install 'llmgateway[redis]'"
                ) from exc
            self._client = Redis.from_url(self.url, **self._options)
            self._loop = loop
        return self._client

    async def get(self, key: str) -> CacheEntry | None:
        value = await self._redis().get(self.prefix + key)
        if value is None:
            return None
        try:
            return CacheEntry.from_bytes(value if isinstance(value, bytes) else value.encode())
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring an unreadable cache entry %s: %s", key, exc)
            return None

    async def set(self, key: str, entry: CacheEntry, ttl: float | None) -> None:
        milliseconds = max(1, int(ttl * 1000)) if ttl is not None else None
        await self._redis().set(self.prefix + key, entry.to_bytes(), px=milliseconds)

    async def delete(self, key: str) -> None:
        await self._redis().delete(self.prefix + key)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        loop, self._loop = self._loop, None
        if client is not None and loop is asyncio.get_running_loop():
            await client.aclose()
