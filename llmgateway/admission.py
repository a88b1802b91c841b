"""Admission: what a call must pass before it is routed. Its budgets (key, team, model, global)
and the rate limits of its key and its model. Deployment limits are checked later, per try.

Everything admitted is a reservation: the budget holds the call's estimated cost and the token
limits its estimated tokens, until the call settles them with what it really used.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from llmgateway.caller import Caller

if TYPE_CHECKING:
    from llmgateway.accounting.budgets.enforcer import BudgetHold, Budgets
    from llmgateway.limits.base import LimitStore, Reservation
    from llmgateway.limits.settings import LimitsConfig, RateLimits


@dataclass(slots=True)
class Admitted:
    """What one admitted call holds until it settles. ``remote``: settling is a network round
    trip (Redis), which the gateway then runs as its own task."""

    reservations: list[Reservation] = field(default_factory=list)
    hold: BudgetHold | None = None
    remote: bool = False

    async def settle_limits(self, tokens: int) -> None:
        for reservation in self.reservations:
            await reservation.settle(tokens)

    async def settle(self, cost: Decimal, tokens: int) -> list[str]:
        """Correct every charge to what the call used; returns soft-budget warnings it crossed."""
        try:
            await self.settle_limits(tokens)
        finally:
            warnings = await self.hold.settle(cost) if self.hold is not None else []
        return warnings

    async def release(self) -> None:
        """The call cost nothing (failed before any upstream billed it, or a cache hit)."""
        await self.settle(Decimal(0), 0)


class Admission:
    def __init__(
        self,
        limits: LimitStore | None,
        limits_config: LimitsConfig | None,
        budgets: Budgets | None,
        *,
        per_caller: bool = False,
    ) -> None:
        self._store = limits
        self._per_caller = per_caller
        self._config = limits_config
        self._budgets = budgets
        self.remote = bool(
            (limits is not None and limits.shared)
            or (budgets is not None and budgets.config.backend == "redis")
        )

    @property
    def active(self) -> bool:
        config = self._config
        return bool(
            self._budgets is not None
            or (config is not None and (config.keys or config.models))
            or self._per_caller  # callers bring their own limits and budgets (virtual keys)
        )

    def _scopes(self, caller: Caller, model: str) -> list[tuple[str, RateLimits]]:
        config = self._config
        scopes = []
        if caller.key is not None:
            limit = caller.limits or (config.key_limits(caller.key) if config is not None else None)
            if limit is not None and not limit.is_unlimited():
                scopes.append((f"key:{caller.key}", limit))
        limit = config.model_limits(model) if config is not None else None
        if limit is not None and not limit.is_unlimited():
            scopes.append((f"model:{model}", limit))
        return scopes

    async def admit(
        self,
        caller: Caller,
        model: str,
        tokens: int,
        cost_estimate: Callable[[], tuple[Decimal, str]],
    ) -> Admitted:
        """Reserve the call's budget and rate-limit capacity; raises BudgetExceededError or
        RateLimitError. Nothing stays reserved when it does, but a request slot already taken
        from an earlier scope (the request was made)."""
        scopes = self._scopes(caller, model) if self._store is not None else []
        if self.remote and self._budgets is not None and scopes:
            return await self._admit_together(caller, model, tokens, cost_estimate, scopes)
        admitted = Admitted(remote=self.remote)
        if self._budgets is not None:
            estimate, currency = cost_estimate()
            admitted.hold = await self._budgets.reserve(caller, model, estimate, currency=currency)
        try:
            if self._store is not None:
                for scope, limit in scopes:
                    admitted.reservations.append(await self._store.acquire(scope, limit, tokens))
        except BaseException:
            await admitted.release()
            raise
        return admitted

    async def _admit_together(
        self,
        caller: Caller,
        model: str,
        tokens: int,
        cost_estimate: Callable[[], tuple[Decimal, str]],
        scopes: list[tuple[str, RateLimits]],
    ) -> Admitted:
        """Budgets and rate limits both in Redis: both reserved at once (one round trip of
        waiting instead of two); what one side took is given back if the other refuses."""
        assert self._budgets is not None and self._store is not None
        store = self._store
        estimate, currency = cost_estimate()

        async def limits() -> list[Reservation]:
            return [await store.acquire(scope, limit, tokens) for scope, limit in scopes]

        hold, reservations = await asyncio.gather(
            self._budgets.reserve(caller, model, estimate, currency=currency),
            limits(),
            return_exceptions=True,
        )
        admitted = Admitted(remote=True)
        if not isinstance(hold, BaseException):
            admitted.hold = hold
        if not isinstance(reservations, BaseException):
            admitted.reservations = reservations
        for outcome in (hold, reservations):
            if isinstance(outcome, BaseException):
                await admitted.release()
                raise outcome
        return admitted
