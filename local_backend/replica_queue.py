"""Calls waiting for a replica slot: first come, first served, each wait recorded for scaling."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from llmgateway.errors import APITimeoutError
from local_backend.replica_process import Replica, ReplicaState

MAX_RECORDED_WAITS = 10_000


@dataclass
class Waiter:
    future: asyncio.Future[Replica]
    enqueued_at: float


class SlotQueue:
    """Hands replica slots to calls: the least-loaded ready replica (ties: the oldest, so light
    traffic packs onto few replicas and the rest can be reclaimed), else a FIFO wait."""

    def __init__(self, name: str, max_concurrency: int) -> None:
        self.name = name
        self.max_concurrency = max_concurrency
        self.waiters: deque[Waiter] = deque()
        # (assigned at, enqueued at, waited seconds) of recent calls
        self.waits: deque[tuple[float, float, float]] = deque(maxlen=MAX_RECORDED_WAITS)

    def pick(self, replicas: Sequence[Replica]) -> Replica | None:
        """The least-loaded ready replica with a free slot; ties go to the oldest."""
        best: Replica | None = None
        for replica in replicas:
            if replica.state is not ReplicaState.READY or replica.in_flight >= self.max_concurrency:
                continue
            if best is None or (replica.in_flight, replica.serial) < (best.in_flight, best.serial):
                best = replica
        return best

    def assign(self, replica: Replica, enqueued_at: float) -> None:
        now = time.monotonic()
        replica.in_flight += 1
        replica.served += 1
        replica.last_used = now
        self.waits.append((now, enqueued_at, now - enqueued_at))

    def release(self, replica: Replica, replicas: Sequence[Replica]) -> None:
        replica.in_flight -= 1
        replica.last_used = time.monotonic()
        self.dispatch(replicas)

    def dispatch(self, replicas: Sequence[Replica]) -> None:
        """Hand free slots to queued calls, first come first served."""
        while self.waiters:
            replica = self.pick(replicas)
            if replica is None:
                return
            waiter = self.waiters.popleft()
            if waiter.future.done():
                continue
            self.assign(replica, waiter.enqueued_at)
            waiter.future.set_result(replica)

    async def wait(self, started: float, timeout: float | None, replicas: Sequence[Replica]) -> Replica:
        """Queue until a slot is handed over (or ``timeout`` passes: APITimeoutError)."""
        loop = asyncio.get_running_loop()
        waiter = Waiter(loop.create_future(), started)
        self.waiters.append(waiter)
        timer = None if timeout is None else loop.call_later(timeout, self._expire, waiter, timeout)
        try:
            return await waiter.future
        except BaseException:
            future = waiter.future
            if future.done() and not future.cancelled() and future.exception() is None:
                self.release(future.result(), replicas)  # handed a slot just as we were cancelled
            elif waiter in self.waiters:
                self.waiters.remove(waiter)
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def _expire(self, waiter: Waiter, timeout: float) -> None:
        if waiter.future.done():
            return
        with contextlib.suppress(ValueError):
            self.waiters.remove(waiter)
        waiter.future.set_exception(
            APITimeoutError(f"waited {timeout}s for a free replica in '{self.name}'", deployment=self.name)
        )

    def fail_all(self, error: BaseException) -> None:
        waiters, self.waiters = self.waiters, deque()
        for waiter in waiters:
            if not waiter.future.done():
                waiter.future.set_exception(error)
