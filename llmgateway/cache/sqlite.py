"""SQLite cache: the embedded default, one file that survives restarts.

Reads run inline on the caller's thread: a primary-key lookup in WAL mode is a B-tree probe in
pages the OS already caches (a few microseconds, measured by ``python -m bench.cache``), cheaper
than handing it to a thread (~50-100 us of executor round trip). Each thread has its own read
connection, so a gateway driven from another event loop (or thread) is fine.

Writes never wait: ``set`` hands the entry to one writer thread, which commits them in batches
(fsync off the request path), prunes expired rows and keeps the table near ``max_entries``
(oldest written first). Until a write is committed, reads see it through the pending map.
``aclose`` commits whatever is pending.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Union

from llmgateway.cache.entry import CacheEntry

if TYPE_CHECKING:
    import sqlite3

log = logging.getLogger(__name__)

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS llmgateway_cache ("
    " key TEXT PRIMARY KEY, value BLOB NOT NULL, expires_at REAL, stored_at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS llmgateway_cache_stored ON llmgateway_cache (stored_at)",
)
_GET = "SELECT value, expires_at FROM llmgateway_cache WHERE key = ?"
_PUT = "INSERT OR REPLACE INTO llmgateway_cache (key, value, expires_at, stored_at) VALUES (?, ?, ?, ?)"
_DELETE = "DELETE FROM llmgateway_cache WHERE key = ?"
_BATCH = 512


class _Write:
    __slots__ = ("entry", "expires_at", "key", "value")

    def __init__(self, key: str, entry: CacheEntry | None, value: bytes | None, expires_at: float | None):
        self.key = key
        self.entry = entry  # None: a delete
        self.value = value
        self.expires_at = expires_at


_Op = Union[_Write, threading.Event, None]  # an Event marks a flush point; None stops the writer


class SQLiteCache:
    def __init__(
        self,
        path: str | Path = "llmgateway_cache.sqlite",
        *,
        max_entries: int = 10_000,
        prune_interval: float = 60.0,
    ) -> None:
        import sqlite3

        self.path = str(path)
        self.max_entries = max_entries
        self.prune_interval = prune_interval
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            setup = sqlite3.connect(self.path, timeout=10)
            try:
                setup.execute("PRAGMA journal_mode=WAL")
                for statement in _SCHEMA:
                    setup.execute(statement)
                setup.commit()
            finally:
                setup.close()
        except sqlite3.Error as exc:
            raise OSError(
                f"cannot open the SQLite cache at {self.path!r} ({exc}); "
                "set cache.path to a writable file, or use cache.backend: memory"
            ) from exc
        self._pending: dict[str, _Write] = {}
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Op] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []

    # -- reads ---------------------------------------------------------------------------------

    async def get(self, key: str) -> CacheEntry | None:
        return self.get_now(key)

    def get_now(self, key: str) -> CacheEntry | None:
        pending = self._pending.get(key)
        if pending is not None:
            if pending.entry is None or _expired(pending.expires_at):
                return None
            return pending.entry
        rows = self._reader().execute(_GET, (key,)).fetchall()
        if not rows:
            return None
        value, expires_at = rows[0]
        if _expired(expires_at):
            return None
        try:
            return CacheEntry.from_bytes(value)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring an unreadable cache entry %s: %s", key, exc)
            return None

    def _reader(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            import sqlite3

            # Autocommit, so no read transaction stays open and each read sees the latest commit.
            connection = sqlite3.connect(self.path, timeout=5, isolation_level=None, check_same_thread=False)
            self._local.connection = connection
            with self._lock:
                self._readers.append(connection)
        return connection

    # -- writes --------------------------------------------------------------------------------

    async def set(self, key: str, entry: CacheEntry, ttl: float | None) -> None:
        expires_at = time.time() + ttl if ttl is not None else None
        self._submit(_Write(key, entry, entry.to_bytes(), expires_at))

    async def delete(self, key: str) -> None:
        self._submit(_Write(key, None, None, None))

    def _submit(self, write: _Write) -> None:
        with self._lock:
            self._pending[write.key] = write
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(target=self._write_loop, name="llmgateway-cache-sqlite")
                self._writer.daemon = True  # an unclosed gateway must not keep the process alive
                self._writer.start()
        self._queue.put(write)

    async def flush(self) -> None:
        """Wait until every write submitted so far is committed."""
        if self._writer is None or not self._writer.is_alive():
            return
        done = threading.Event()
        self._queue.put(done)
        await asyncio.to_thread(done.wait)

    def _write_loop(self) -> None:
        import sqlite3

        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        connection.execute("PRAGMA synchronous=NORMAL")
        last_prune = time.monotonic()
        written = 0
        try:
            while True:
                try:
                    ops: list[_Op] = [self._queue.get(timeout=self.prune_interval)]
                except queue.Empty:
                    ops = []  # idle: only a timed prune
                while ops and ops[-1] is not None and len(ops) < _BATCH:
                    try:
                        ops.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                writes = [op for op in ops if isinstance(op, _Write)]
                if writes:
                    self._commit(connection, writes)
                    written += len(writes)
                due = time.monotonic() - last_prune >= self.prune_interval
                if due or written >= max(64, self.max_entries // 10):
                    self._prune(connection)
                    last_prune, written = time.monotonic(), 0
                for op in ops:
                    if isinstance(op, threading.Event):
                        op.set()
                if ops and ops[-1] is None:
                    return
        finally:
            connection.close()

    def _commit(self, connection: sqlite3.Connection, writes: list[_Write]) -> None:
        import sqlite3

        now = time.time()
        try:
            connection.execute("BEGIN IMMEDIATE")
            for w in writes:
                if w.entry is None:
                    connection.execute(_DELETE, (w.key,))
                else:
                    connection.execute(_PUT, (w.key, w.value, w.expires_at, now))
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            # The cache is best effort: a failed write costs a future miss, never a request.
            log.warning("SQLite cache at %s: dropped %d writes (%s)", self.path, len(writes), exc)
            if connection.in_transaction:
                connection.execute("ROLLBACK")
        with self._lock:
            for w in writes:
                if self._pending.get(w.key) is w:
                    del self._pending[w.key]

    def _prune(self, connection: sqlite3.Connection) -> None:
        import sqlite3

        try:
            connection.execute("DELETE FROM llmgateway_cache WHERE expires_at <= ?", (time.time(),))
            (count,) = connection.execute("SELECT count(*) FROM llmgateway_cache").fetchone()
            if count > self.max_entries:
                connection.execute(
                    "DELETE FROM llmgateway_cache WHERE key IN "
                    "(SELECT key FROM llmgateway_cache ORDER BY stored_at LIMIT ?)",
                    (count - self.max_entries,),
                )
        except sqlite3.Error as exc:
            log.warning("SQLite cache at %s: pruning failed (%s)", self.path, exc)

    def prune_now(self) -> None:
        """Drop expired rows and the oldest beyond ``max_entries`` now (normally the writer does it)."""
        import sqlite3

        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            self._prune(connection)
        finally:
            connection.close()

    # -- closing -------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Commit pending writes and close every connection; the cache reopens if used again."""
        await asyncio.to_thread(self.close)

    def close(self) -> None:
        writer = self._writer
        if writer is not None and writer.is_alive():
            self._queue.put(None)
            writer.join()
        self._writer = None
        with self._lock:
            readers, self._readers = self._readers, []
            self._local = threading.local()
        for connection in readers:
            connection.close()


def _expired(expires_at: float | None) -> bool:
    return expires_at is not None and expires_at <= time.time()
