"""An asyncpg pool opened on first use, on the running event loop (a new loop gets a new pool:
connections belong to the loop that made them); concurrent first users share one opening."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncpg


def _opened(task: asyncio.Task[asyncpg.Pool]) -> asyncpg.Pool | None:
    """The pool a finished opening task made; None while it runs or when it failed."""
    if not task.done() or task.cancelled() or task.exception() is not None:
        return None
    return task.result()


class LazyPool:
    """``setup`` runs once on a new pool (create tables under an advisory lock, ...)."""

    def __init__(
        self, dsn: str, *, max_size: int = 4, setup: Callable[[asyncpg.Pool], Awaitable[None]] | None = None
    ) -> None:
        self.dsn = dsn
        self._max_size = max_size
        self._setup = setup
        self._pool: asyncio.Task[asyncpg.Pool] | None = None

    async def _open(self) -> asyncpg.Pool:
        import asyncpg

        pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=self._max_size)
        if self._setup is not None:
            await self._setup(pool)
        return pool

    async def get(self) -> asyncpg.Pool:
        loop = asyncio.get_running_loop()
        if self._pool is not None and self._pool.get_loop() is not loop:
            old, self._pool = self._pool, None
            if (stale := _opened(old)) is not None:
                stale.terminate()
        if self._pool is None or (self._pool.done() and _opened(self._pool) is None):
            self._pool = loop.create_task(self._open())  # a failed opening is retried next time
        return await asyncio.shield(self._pool)

    async def close(self) -> None:
        task, self._pool = self._pool, None
        if task is None:
            return
        if task.get_loop() is not asyncio.get_running_loop():
            if (stale := _opened(task)) is not None:
                stale.terminate()
            return
        try:
            pool = await task
        except Exception:
            return
        await pool.close()
