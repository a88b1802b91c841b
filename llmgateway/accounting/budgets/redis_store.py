"""Budget counters in Redis, shared by every gateway replica.

Each reservation is one Lua script over all the call's counters: it checks every hard limit and
only then adds the amount to each, so two replicas can never both pass the last unit of a budget
and a call refused by one budget holds nothing in the others. Counters expire a day after their
period ends; ``total`` counters never do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from llmgateway.accounting.budgets.store import CounterStore, Reservation, ReserveOutcome

if TYPE_CHECKING:
    from redis.asyncio import Redis

# KEYS: counters. ARGV, three per key: amount, hard (-1: none), expire-at unix seconds (0: none).
_RESERVE = """
local spent = {}
for i = 1, #KEYS do
  local value = tonumber(redis.call('GET', KEYS[i]) or '0')
  spent[i] = value
  local hard = tonumber(ARGV[3 * i - 1])
  if hard >= 0 and value + tonumber(ARGV[3 * i - 2]) > hard then
    return {i, spent}
  end
end
for i = 1, #KEYS do
  redis.call('INCRBY', KEYS[i], ARGV[3 * i - 2])
  local at = tonumber(ARGV[3 * i])
  if at > 0 then redis.call('EXPIREAT', KEYS[i], at) end
end
return {0, spent}
"""

# KEYS: counters. ARGV, two per key: delta, expire-at (0: none). Returns the new values.
_ADJUST = """
local out = {}
for i = 1, #KEYS do
  out[i] = redis.call('INCRBY', KEYS[i], ARGV[2 * i - 1])
  local at = tonumber(ARGV[2 * i])
  if at > 0 then redis.call('EXPIREAT', KEYS[i], at) end
end
return out
"""


class RedisCounterStore(CounterStore):
    def __init__(self, url: str, prefix: str = "llmgw:budget:", *, client: Redis | None = None) -> None:
        self._url = url
        self._prefix = prefix
        self._client = client
        self._own_client = client is None
        self._scripts: tuple[Any, Any] | None = None

    def _redis(self) -> tuple[Redis, Any, Any]:
        if self._client is None:
            from redis.asyncio import Redis

            self._client = Redis.from_url(self._url)
        if self._scripts is None:
            self._scripts = (self._client.register_script(_RESERVE), self._client.register_script(_ADJUST))
        return self._client, *self._scripts

    async def reserve_many(self, reservations: Sequence[Reservation]) -> ReserveOutcome:
        _, reserve, _ = self._redis()
        args: list[int] = []
        for r in reservations:
            args += [r.amount, -1 if r.hard is None else r.hard, r.expires_at or 0]
        rejected, spent = await reserve(keys=[self._prefix + r.counter for r in reservations], args=args)
        spent_before = tuple(int(v) for v in spent)
        if rejected:
            return ReserveOutcome(False, spent_before, int(rejected) - 1)
        return ReserveOutcome(True, spent_before)

    async def adjust_many(self, adjustments: Sequence[tuple[str, int, int | None]]) -> list[int]:
        _, _, adjust = self._redis()
        args: list[int] = []
        for _, delta, expires_at in adjustments:
            args += [delta, expires_at or 0]
        values = await adjust(keys=[self._prefix + c for c, _, _ in adjustments], args=args)
        return [int(v) for v in values]

    async def get(self, counter: str) -> int:
        client, _, _ = self._redis()
        value = await client.get(self._prefix + counter)
        return int(value) if value is not None else 0

    async def exists(self, counter: str) -> bool:
        client, _, _ = self._redis()
        return bool(await client.exists(self._prefix + counter))

    async def seed(self, counter: str, amount: int, expires_at: int | None) -> bool:
        client, _, _ = self._redis()
        return bool(await client.set(self._prefix + counter, amount, nx=True, exat=expires_at))

    async def mark_once(self, flag: str, expires_at: int | None) -> bool:
        return await self.seed(flag, 1, expires_at)

    async def aclose(self) -> None:
        if self._client is not None and self._own_client:
            await self._client.aclose()
        self._client = None
        self._scripts = None
