"""Budget counters in this process's memory: exact and atomic (no await inside a step), but each
gateway process counts alone. Use the Redis store to share budgets between replicas."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from llmgateway.accounting.budgets.store import CounterStore, Reservation, ReserveOutcome

# Sweep expired counters after this many new ones, so old periods do not pile up.
_SWEEP_EVERY = 1024


class MemoryCounterStore(CounterStore):
    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._values: dict[str, int] = {}
        self._expires: dict[str, int] = {}
        self._clock = clock
        self._created = 0

    def _touch(self, counter: str, expires_at: int | None) -> None:
        if counter not in self._values:
            self._values[counter] = 0
            self._created += 1
            if self._created % _SWEEP_EVERY == 0:
                self._sweep()
        if expires_at is not None:
            self._expires[counter] = expires_at

    def _sweep(self) -> None:
        now = self._clock()
        for counter in [c for c, at in self._expires.items() if at <= now]:
            self._values.pop(counter, None)
            del self._expires[counter]

    async def reserve_many(self, reservations: Sequence[Reservation]) -> ReserveOutcome:
        spent: list[int] = []
        for i, r in enumerate(reservations):
            value = self._values.get(r.counter, 0)
            spent.append(value)
            if r.hard is not None and value + r.amount > r.hard:
                return ReserveOutcome(False, tuple(spent), i)
        for r in reservations:
            self._touch(r.counter, r.expires_at)
            self._values[r.counter] += r.amount
        return ReserveOutcome(True, tuple(spent))

    async def adjust_many(self, adjustments: Sequence[tuple[str, int, int | None]]) -> list[int]:
        out = []
        for counter, delta, expires_at in adjustments:
            self._touch(counter, expires_at)
            self._values[counter] += delta
            out.append(self._values[counter])
        return out

    async def get(self, counter: str) -> int:
        return self._values.get(counter, 0)

    async def exists(self, counter: str) -> bool:
        return counter in self._values

    async def seed(self, counter: str, amount: int, expires_at: int | None) -> bool:
        if counter in self._values:
            return False
        self._touch(counter, expires_at)
        self._values[counter] = amount
        return True

    async def mark_once(self, flag: str, expires_at: int | None) -> bool:
        return await self.seed(flag, 1, expires_at)
