"""Rate limits shared by every gateway replica through Redis.

One Lua script checks and reserves requests and tokens atomically on the server (the same GCRA
as the memory store, on the server's clock); a second one moves TATs for settlements and for
waiters that were cancelled. Keys live under ``prefix`` with a TTL, so idle scopes vanish.

While Redis is unreachable, ``on_error="reject"`` fails calls with a 503 naming the Redis URL
(fail closed: no replica can exceed the limit), ``"allow"`` lets them through unlimited and logs
it (fail open: availability first). A failed settlement is only logged: it runs after the upstream
answered, and the answer must not be lost over an accounting correction.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

from llmgateway.errors import ConfigError, ServiceUnavailableError
from llmgateway.limits import scripts
from llmgateway.limits.base import (
    NOOP_RESERVATION,
    TOKEN_WINDOW,
    Reservation,
    check_request,
    over_limit_error,
)
from llmgateway.limits.settings import RateLimits

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

logger = logging.getLogger("llmgateway.limits")


@dataclass(frozen=True, slots=True)
class _Bound:
    """A client with its scripts, for the event loop it belongs to."""

    loop: asyncio.AbstractEventLoop | None
    client: Redis
    acquire: AsyncScript
    adjust: AsyncScript


def redact_url(url: str) -> str:
    """The URL without its password, for messages."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class _TokenReservation:
    __slots__ = ("_key", "_per_token", "_store", "_tokens")

    def __init__(self, store: RedisLimitStore, key: str, tokens: int, per_token: float) -> None:
        self._store: RedisLimitStore | None = store
        self._key = key
        self._tokens = tokens
        self._per_token = per_token

    async def settle(self, used_tokens: int) -> None:
        store, self._store = self._store, None
        if store is None or used_tokens == self._tokens:
            return
        delta = (max(used_tokens, 0) - self._tokens) * self._per_token
        await store.adjust({self._key: delta})


class RedisLimitStore:
    """Limits shared through the Redis at ``url`` (a client is made per event loop, on first use),
    or through an existing ``client`` (used as given, never closed here)."""

    # Each operation is a network round trip: callers settle in the background.
    shared: ClassVar[bool] = True

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Redis | None = None,
        prefix: str = "llmgw:",
        timeout: float = 2.0,
        on_error: Literal["reject", "allow"] = "reject",
    ) -> None:
        if url is None and client is None:
            raise ConfigError("RedisLimitStore needs a Redis URL (limits.redis_url) or a client")
        self._url = url
        self._shown_url = redact_url(url) if url else "the given Redis client"
        self._prefix = prefix
        self._timeout = timeout
        self._on_error = on_error
        self._bound: _Bound | None = self._bind(client, None) if client is not None else None
        self._owns_client = client is None
        self._failing = False
        # Refunds of cancelled waiters run on after their task is gone; held so they finish.
        self._background: set[asyncio.Task[None]] = set()

    def _bind(self, client: Redis, loop: asyncio.AbstractEventLoop | None) -> _Bound:
        return _Bound(
            loop, client, client.register_script(scripts.ACQUIRE), client.register_script(scripts.ADJUST)
        )

    def _current(self) -> _Bound:
        bound = self._bound
        if bound is not None and (not self._owns_client or bound.loop is asyncio.get_running_loop()):
            return bound
        # A client's connections belong to the loop that opened them: a new loop needs its own.
        from redis.asyncio import Redis

        assert self._url is not None
        client = Redis.from_url(self._url, socket_timeout=self._timeout, socket_connect_timeout=self._timeout)
        self._bound = self._bind(client, asyncio.get_running_loop())
        return self._bound

    def keys(self, scope: str) -> tuple[str, str]:
        """The request and token keys of a scope (one hash slot, for Redis Cluster)."""
        base = f"{self._prefix}rl:{{{scope}}}"
        return f"{base}:rpm", f"{base}:tpm"

    async def acquire(self, scope: str, limits: RateLimits, tokens: int = 0) -> Reservation:
        rpm, tpm = limits.rpm, limits.tpm
        if rpm is None and tpm is None:
            return NOOP_RESERVATION
        if tokens:
            check_request(scope, limits, tokens)
        interval = 60.0 / rpm if rpm is not None else 0.0
        cost = tokens * 60.0 / tpm if tpm is not None else 0.0
        keys = self.keys(scope)
        args = (
            interval,
            limits.burst * interval,
            cost,
            TOKEN_WINDOW if tpm is not None else 0.0,
            limits.max_wait,
        )
        try:
            answer = await self._current().acquire(keys=keys, args=args)
        except Exception as exc:
            if not _is_redis_failure(exc):
                raise
            self._failed(exc)
            if self._on_error == "allow":
                return NOOP_RESERVATION
            raise self._unavailable(exc) from exc
        if self._failing:
            self._recovered()
        admitted, first, second = answer
        if not int(admitted):
            raise over_limit_error(scope, limits, tokens, float(first), float(second))
        wait = float(first)
        if wait > 0:
            try:
                await asyncio.sleep(wait)
            except asyncio.CancelledError:
                self._refund_later({keys[0]: -interval, keys[1]: -cost})
                raise
        if tpm is None:
            return NOOP_RESERVATION
        return _TokenReservation(self, keys[1], tokens, 60.0 / tpm)

    async def adjust(self, deltas: dict[str, float]) -> None:
        """Move TATs by seconds (positive: charge, negative: refund); failures are only logged."""
        moves = {key: delta for key, delta in deltas.items() if delta}
        if not moves:
            return
        try:
            await self._current().adjust(keys=list(moves), args=list(moves.values()))
        except Exception as exc:
            if not _is_redis_failure(exc):
                raise
            logger.warning("rate-limit correction lost: Redis at %s failed: %s", self._shown_url, exc)

    def _refund_later(self, deltas: dict[str, float]) -> None:
        task = asyncio.get_running_loop().create_task(self.adjust(deltas))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _unavailable(self, exc: BaseException) -> ServiceUnavailableError:
        return ServiceUnavailableError(
            f"the rate-limit store, Redis at {self._shown_url}, is unreachable ({exc}); start it or "
            "fix limits.redis_url, or set limits.on_redis_error: allow to let calls through "
            "unlimited while it is down",
            code="rate_limit_store_unavailable",
        )

    def _failed(self, exc: BaseException) -> None:
        if not self._failing:
            self._failing = True
            action = "letting calls through unlimited" if self._on_error == "allow" else "rejecting calls"
            logger.warning("rate-limit Redis at %s failed (%s): %s", self._shown_url, exc, action)

    def _recovered(self) -> None:
        if self._failing:
            self._failing = False
            logger.warning("rate-limit Redis at %s answers again", self._shown_url)

    async def aclose(self) -> None:
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        bound, self._bound = self._bound, None
        if bound is None or not self._owns_client:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:  # pragma: no cover - aclose is always awaited
            running = None
        if bound.loop is running:
            await bound.client.aclose()


def _is_redis_failure(exc: BaseException) -> bool:
    """Redis down, slow, refusing writes or out of memory: anything but our own bug."""
    from redis.exceptions import RedisError

    return isinstance(exc, (RedisError, OSError, asyncio.TimeoutError))
