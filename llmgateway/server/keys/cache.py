"""A small TTL cache of key lookups, per key id, so that authenticating a known key costs
microseconds instead of a database round trip. Unknown ids are cached too (as None), so a
flood of made-up keys with one id does not reach the database more than once per TTL.

The TTL bounds how stale a replica's view may be: a key revoked or changed on another replica
(or with the CLI) takes effect here at most ``ttl`` seconds later.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Generic, TypeVar

if TYPE_CHECKING:
    from llmgateway.server.keys.model import KeyRecord
    from llmgateway.server.principal import Principal

V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class CachedKey:
    """What authentication needs from a record, computed once per lookup."""

    record: KeyRecord
    principal: Principal
    secret_hash: bytes
    expires: float | None  # POSIX seconds
    revoked: bool


class Miss:
    """Not cached (or no longer)."""


MISS: Final = Miss()


class TtlCache(Generic[V]):
    """``get`` returns ``MISS`` when absent or older than ``ttl`` seconds; at most
    ``max_entries`` kept (the oldest insertions go first)."""

    def __init__(
        self, ttl: float, *, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._entries: dict[str, tuple[float, V]] = {}

    def get(self, key: str) -> V | Miss:
        entry = self._entries.get(key)
        if entry is None or entry[0] <= self._clock():
            return MISS
        return entry[1]

    def put(self, key: str, value: V) -> None:
        if self.ttl <= 0:
            return
        entries = self._entries
        entries.pop(key, None)  # re-inserted last: the eviction order is insertion order
        if len(entries) >= self._max:
            del entries[next(iter(entries))]
        entries[key] = (self._clock() + self.ttl, value)

    def invalidate(self, key: str | None = None) -> None:
        """Forget one key (a change made through this process), or everything."""
        if key is None:
            self._entries.clear()
        else:
            self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)
