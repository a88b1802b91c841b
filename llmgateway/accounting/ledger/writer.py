"""Writes usage records off the request path, in batches, without losing them.

``record()`` appends to an in-memory queue and returns; a background flusher (one task on the
running event loop) writes a batch when ``batch_size`` records are queued or ``flush_interval``
seconds have passed, retrying a failing store with capped backoff and keeping the records.

What can be lost:

* Graceful shutdown (``aclose()``, which a SIGTERM handler should await): nothing. Everything
  queued is written; what the database still refuses at the deadline is appended (fsynced) to
  the spill file and re-sent by the next ledger that starts with the same spill path.
* Hard crash (SIGKILL, OOM kill, power cut of the process): the records queued and not yet
  committed. ``record()`` waits while ``max_pending`` records are unwritten, so that is at most
  ``max_pending`` records (plus any ``record_nowait()`` enqueued beyond it, which never waits);
  with a healthy database it is normally the records of the last ``flush_interval`` plus one
  batch's write time. Committed SQLite batches survive a process kill (WAL).
* ``strict: true``: ``record()`` returns only once the transaction holding the record has
  committed, so a crash loses no record whose call returned. Concurrent strict calls share one
  transaction (group commit). While the database is down, strict calls wait for it.

Backpressure never drops: while ``max_pending`` records are unwritten, ``record()`` waits.
One Ledger serves one event loop at a time; used under a new loop (a sync wrapper calling
``asyncio.run`` again), it starts a new flusher there and carries the unwritten records over.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from pathlib import Path

from llmgateway.accounting.ledger import spill
from llmgateway.accounting.ledger.record import UsageRecord
from llmgateway.accounting.ledger.settings import LedgerConfig
from llmgateway.accounting.ledger.store import LedgerStore

logger = logging.getLogger(__name__)

_RETRY_FIRST = 0.05
_RETRY_MAX = 5.0


class Ledger:
    def __init__(self, store: LedgerStore, config: LedgerConfig) -> None:
        self.store = store
        self.config = config
        self.spill_path = config.resolved_spill_path()
        self._queue: deque[UsageRecord] = deque()
        self._batch: list[UsageRecord] = []  # taken from the queue, being written
        # Records ever enqueued / committed, in queue order: record n is committed once
        # _committed >= n, which is what strict calls and flush() wait for.
        self._appended = 0
        self._committed = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._space: list[asyncio.Future[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._force = False
        self._closed = False
        self._replay_checked = False
        self._replay_files: list[Path] = []
        self._replay_until = 0

    @property
    def pending(self) -> int:
        """Records not yet committed."""
        return len(self._queue) + len(self._batch)

    # -- the hot path ---------------------------------------------------------------------------
    async def record(self, record: UsageRecord) -> None:
        """Queue one record; waits only under backpressure or in strict mode."""
        if self._closed:
            self._spill_late(record)
            return
        wake = self._ensure_flusher()
        if len(self._queue) + len(self._batch) >= self.config.max_pending:
            await self._wait_for_space(wake)
        self._queue.append(record)
        self._appended += 1
        if self.config.strict:
            self._force = True
            wake.set()
            await self._wait_committed(self._appended)
        elif len(self._queue) >= self.config.batch_size:
            wake.set()

    def record_nowait(self, record: UsageRecord) -> None:
        """Queue one record from synchronous code (a finaliser); never waits, even past
        max_pending. Safe to call with no running loop: the next flush writes it."""
        if self._closed:
            self._spill_late(record)
            return
        self._queue.append(record)
        self._appended += 1
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        wake = self._ensure_flusher()
        if len(self._queue) >= self.config.batch_size:
            wake.set()

    # -- waiting ----------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the flusher now (it also starts on the first record): replays a spill file."""
        self._ensure_flusher()

    async def flush(self) -> None:
        """Wait until every record queued before this call is committed."""
        wake = self._ensure_flusher()
        target = self._appended
        if self._committed < target:
            self._force = True
            wake.set()
            await self._wait_committed(target)

    async def aclose(self, timeout: float = 10.0) -> None:
        """Write everything pending; what cannot be written within ``timeout`` seconds goes to
        the spill file. Records arriving while closing are included."""
        if self._closed:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while self.pending and loop.time() < deadline:
                await asyncio.wait_for(self.flush(), deadline - loop.time())
        except TimeoutError:
            pass
        self._closed = True
        await self._stop_flusher()
        leftover = [*self._batch, *self._queue]
        self._batch, self._queue = [], deque()
        if leftover:
            spill.append(self.spill_path, leftover)
            logger.warning(
                "usage ledger: %d records could not be written by shutdown; saved to %s, "
                "they are re-sent when a ledger starts with this spill path",
                len(leftover),
                self.spill_path,
            )
        # Claimed spill records are committed or among the leftover just spilled.
        spill.remove(self._replay_files)
        self._replay_files = []
        for _, future in self._waiters:
            if not future.done():
                future.set_result(None)  # the record is durable in the spill file
        self._waiters.clear()
        self._release_space(everyone=True)
        try:
            await asyncio.wait_for(self.store.aclose(), max(1.0, deadline - loop.time()))
        except (TimeoutError, OSError) as exc:
            logger.warning("usage ledger: closing the store failed: %r", exc)

    async def _wait_committed(self, target: int) -> None:
        future = asyncio.get_running_loop().create_future()
        self._waiters.append((target, future))
        await future

    async def _wait_for_space(self, wake: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while not self._closed and self.pending >= self.config.max_pending:
            self._force = True
            wake.set()
            future = loop.create_future()
            self._space.append(future)
            await future

    def _notify(self) -> None:
        committed = self._committed
        if self._waiters:
            waiting = []
            for target, future in self._waiters:
                if target <= committed:
                    if not future.done():
                        future.set_result(None)
                elif not future.done():
                    waiting.append((target, future))
            self._waiters = waiting
        self._release_space()
        if self._replay_files and committed >= self._replay_until:
            spill.remove(self._replay_files)
            self._replay_files = []

    def _release_space(self, everyone: bool = False) -> None:
        if self._space and (everyone or self.pending < self.config.max_pending):
            space, self._space = self._space, []
            for future in space:
                if not future.done():
                    future.set_result(None)

    def _spill_late(self, record: UsageRecord) -> None:
        spill.append(self.spill_path, [record])
        logger.warning("usage ledger is closed; record %s saved to %s", record.id, self.spill_path)

    # -- the flusher ------------------------------------------------------------------------------
    def _ensure_flusher(self) -> asyncio.Event:
        loop = asyncio.get_running_loop()
        task = self._task
        if task is not None and self._loop is loop and not task.done():
            return self._wake
        if self._batch and (task is None or task.done() or self._loop is not loop):
            # The previous flusher stopped mid-batch: write it again (ids make that safe).
            self._queue.extendleft(reversed(self._batch))
            self._batch = []
        if self._loop is not loop:
            # Futures of the old loop can never be resolved from this one.
            self._waiters, self._space = [], []
            self._wake = asyncio.Event()
        self._loop = loop
        self._task = loop.create_task(self._run(), name="llmgateway-ledger-flusher")
        return self._wake

    async def _stop_flusher(self) -> None:
        task, self._task = self._task, None
        if task is None or task.done():
            return
        if task.get_loop() is asyncio.get_running_loop():
            task.cancel()
            await asyncio.wait([task])

    async def _run(self) -> None:
        await self._replay()
        wake = self._wake
        size, interval = self.config.batch_size, self.config.flush_interval
        while True:
            timed_out = False
            if not self._force and len(self._queue) < size:
                try:
                    await asyncio.wait_for(wake.wait(), interval)
                except TimeoutError:
                    timed_out = True
            wake.clear()
            drain_all = timed_out or self._force
            self._force = False
            while self._batch or (self._queue and (drain_all or len(self._queue) >= size)):
                if not self._batch:
                    count = min(size, len(self._queue))
                    self._batch = [self._queue.popleft() for _ in range(count)]
                await self._write_batch()

    async def _write_batch(self) -> None:
        delay = _RETRY_FIRST
        failures = 0
        while True:
            try:
                await self.store.write(self._batch)
                break
            except Exception as exc:
                failures += 1
                if failures == 1 or delay >= _RETRY_MAX:
                    logger.warning(
                        "usage ledger: writing %d records failed (%r); keeping %d pending, retrying in %.2fs",
                        len(self._batch),
                        exc,
                        self.pending,
                        delay,
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX)
        if failures:
            logger.warning("usage ledger: store recovered after %d failed writes", failures)
        self._committed += len(self._batch)
        self._batch = []
        self._notify()

    async def _replay(self) -> None:
        if self._replay_checked:
            return
        self._replay_checked = True
        try:
            files = await asyncio.to_thread(spill.claim, self.spill_path)
            records = await asyncio.to_thread(spill.read, files) if files else []
        except OSError as exc:
            logger.warning("usage ledger: cannot replay spill file %s: %r", self.spill_path, exc)
            return
        if not files:
            return
        self._queue.extend(records)
        self._appended += len(records)
        self._replay_files = files
        self._replay_until = self._appended
        logger.info("usage ledger: re-sending %d records from %s", len(records), self.spill_path)
        if not records:
            self._notify()


def build_ledger(config: LedgerConfig) -> Ledger | None:
    """The ledger the config asks for; None when ``backend: off``."""
    if config.backend == "off":
        return None
    store: LedgerStore
    if config.backend == "postgres":
        from llmgateway.accounting.ledger.postgres_store import PostgresLedgerStore

        assert config.dsn is not None  # checked by LedgerConfig
        store = PostgresLedgerStore(config.dsn, config.table)
    else:
        from llmgateway.accounting.ledger.sqlite_store import SqliteLedgerStore

        store = SqliteLedgerStore(config.path, config.table)
    return Ledger(store, config)
