"""Rate limits counted in this process (one gateway replica): GCRA on the monotonic clock.

Not aiolimiter: a call must learn its wait before it commits (to reject at once when the wait is
over ``max_wait``, with an honest ``retry_after``), charge requests and tokens together or not at
all, and keep the exact same semantics as the Redis store. State is plain floats, so the store
works from any event loop (``asyncio.run`` twice) and costs about a microsecond when there is room.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import ClassVar

from llmgateway.limits.base import (
    EPSILON,
    NOOP_RESERVATION,
    TOKEN_WINDOW,
    Reservation,
    check_request,
    over_limit_error,
)
from llmgateway.limits.settings import RateLimits

# Idle scopes are swept once the table doubles past this size.
_SWEEP_MIN = 1024


class _Scope:
    """The theoretical arrival times (on the store's clock) of one scope's requests and tokens."""

    __slots__ = ("requests", "tokens")

    def __init__(self) -> None:
        self.requests = 0.0
        self.tokens = 0.0


class _TokenReservation:
    __slots__ = ("_clock", "_per_token", "_scope", "_tokens")

    def __init__(self, scope: _Scope, tokens: int, per_token: float, clock: Callable[[], float]) -> None:
        self._scope: _Scope | None = scope
        self._tokens = tokens
        self._per_token = per_token
        self._clock = clock

    async def settle(self, used_tokens: int) -> None:
        scope, self._scope = self._scope, None
        if scope is None:
            return
        delta = (max(used_tokens, 0) - self._tokens) * self._per_token
        if delta < 0:
            scope.tokens += delta  # a refund; a TAT already past means nothing is left to refund
        elif delta > 0:
            scope.tokens = max(scope.tokens, self._clock()) + delta  # debt: later calls wait


class MemoryLimitStore:
    """Per-scope limits in one process. ``clock`` (seconds, monotonic) is for tests."""

    shared: ClassVar[bool] = False  # settling is a few microseconds: callers await it

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._scopes: dict[str, _Scope] = {}
        self._sweep_at = _SWEEP_MIN

    async def acquire(self, scope: str, limits: RateLimits, tokens: int = 0) -> Reservation:
        rpm, tpm = limits.rpm, limits.tpm
        if rpm is None and tpm is None:
            return NOOP_RESERVATION
        if tokens:
            check_request(scope, limits, tokens)
        state = self._scopes.get(scope)
        if state is None:
            state = self._add(scope)
        now = self._clock()
        rpm_wait = tpm_wait = interval = cost = 0.0
        if rpm is not None:
            interval = 60.0 / rpm
            rpm_wait = max(state.requests, now) + interval - limits.burst * interval - now
        if tpm is not None:
            cost = tokens * 60.0 / tpm
            tpm_wait = max(state.tokens, now) + cost - TOKEN_WINDOW - now
        wait = max(rpm_wait, tpm_wait)
        if wait <= EPSILON:
            wait = 0.0
        elif wait > limits.max_wait:
            raise over_limit_error(scope, limits, tokens, max(rpm_wait, 0.0), max(tpm_wait, 0.0))
        # Both charges are taken at the moment the call will pass: reserved now, slept towards.
        at = now + wait
        if interval:
            state.requests = max(state.requests, at) + interval
        if cost:
            state.tokens = max(state.tokens, at) + cost
        if wait:
            try:
                await asyncio.sleep(wait)
            except asyncio.CancelledError:
                # The call never went: give its slot back to the calls behind it.
                state.requests -= interval
                state.tokens -= cost
                raise
        if tpm is None:
            return NOOP_RESERVATION
        return _TokenReservation(state, tokens, 60.0 / tpm, self._clock)

    def _add(self, scope: str) -> _Scope:
        if len(self._scopes) >= self._sweep_at:
            self._sweep()
        state = self._scopes[scope] = _Scope()
        return state

    def _sweep(self) -> None:
        """Forget scopes whose TATs have passed: they are indistinguishable from new ones."""
        now = self._clock()
        idle = [name for name, s in self._scopes.items() if s.requests <= now and s.tokens <= now]
        for name in idle:
            del self._scopes[name]
        self._sweep_at = max(_SWEEP_MIN, 2 * len(self._scopes))

    async def aclose(self) -> None:
        self._scopes.clear()
