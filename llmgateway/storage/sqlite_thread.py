"""One SQLite connection, owned by one worker thread (sqlite3 objects must stay in the thread
that made them), so the event loop never waits on the disk."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class SqliteThread:
    """``schema`` runs once on the new connection when ``create`` (tables, indexes); without
    ``create`` the file must exist and is never created just to be read."""

    def __init__(
        self,
        path: str | Path,
        *,
        create: bool,
        thread_name: str,
        schema: Callable[[sqlite3.Connection], None],
    ) -> None:
        self.path = Path(path)
        self._create = create
        self._thread_name = thread_name
        self._schema = schema
        self._executor: ThreadPoolExecutor | None = None
        self._connection: sqlite3.Connection | None = None

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function(*args)`` on the connection's thread (it may use ``db()``)."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self._thread_name)
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    def db(self) -> sqlite3.Connection:
        """The connection (on the thread only), opened on first use."""
        if self._connection is not None:
            return self._connection
        if self._create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, isolation_level=None)
        else:
            uri = f"{self.path.resolve().as_uri()}?mode=rw"
            connection = sqlite3.connect(uri, uri=True, isolation_level=None)
        connection.execute("PRAGMA busy_timeout = 10000")
        if self._create:
            connection.execute("PRAGMA journal_mode = WAL")
            self._schema(connection)
        self._connection = connection
        return connection

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        if self._executor is None:
            return
        await self.call(self._close)
        self._executor.shutdown(wait=False)
        self._executor = None
