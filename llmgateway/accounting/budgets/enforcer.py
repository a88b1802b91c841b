"""Budget enforcement: reserve a call's estimated cost before it runs, settle its actual cost after.

Every budget that matches a call (its key, its team, its model, the whole gateway) has one counter
per period. ``Budgets.reserve`` adds the call's estimate to all of them in one atomic store step,
refusing it with ``BudgetExceededError`` if any hard limit could be passed; ``BudgetHold.settle``
then replaces the estimate with the actual cost and reports soft limits crossed, once per counter
and period. With the Redis store the counters are shared, so replicas enforce one budget.

Budgets that match the same counter (say ``key "*"`` and ``key "k1"``, both monthly in USD)
share it: the call is counted once and checked against the lower hard limit.

Currency: a budget counts only costs in its own currency; a call priced in another one passes it
by. ``check_currencies`` rejects, at startup, deployments whose currency no budget counts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Literal, cast

from llmgateway.accounting.budgets.periods import Window, window
from llmgateway.accounting.budgets.settings import BudgetConfig, BudgetsConfig
from llmgateway.accounting.budgets.store import CounterStore, Reservation, money, units, units_up
from llmgateway.caller import Caller
from llmgateway.errors import BudgetExceededError, ConfigError

logger = logging.getLogger("llmgateway.budgets")

# seed(column, value, since): what the usage ledger recorded since the period start for the
# records whose column ("key", "team", "model") equals value; column None (and value None) for
# the global budget, since None for ``total`` budgets.
SeedColumn = Literal["key", "team", "model"]
Seed = Callable[[SeedColumn | None, str | None, datetime | None], Awaitable[Decimal]]

_PERIOD_WORD = {"day": "daily", "month": "monthly", "total": "total"}
# Forget which counters were seeded once this many piled up (the old periods' ones go).
_SEEDED_PRUNE_AT = 4096


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _fmt(amount: Decimal) -> str:
    """Money for messages: cents, with more digits only where cents would hide the amount."""
    cents = amount.quantize(Decimal("0.01"))
    if cents == amount or abs(amount) >= 1:
        return f"{cents:f}"
    return f"{amount.quantize(Decimal('0.000001')).normalize():f}"


def _who(scope: str, name: str) -> str:
    return "the gateway" if scope == "global" else f"{scope} {name!r}"


@dataclass(slots=True)
class _Counter:
    """One counter a call is charged to, with the budgets that read it."""

    id: str
    scope: str
    name: str
    period: str
    window: Window
    currency: str
    hard: BudgetConfig | None  # the matching budget with the lowest hard limit
    softs: tuple[BudgetConfig, ...]
    reserved: int = 0

    def describe(self, spent: int, limit: Decimal, what: str) -> str:
        return (
            f"{_who(self.scope, self.name)} has spent {_fmt(money(spent))} of its {_fmt(limit)} "
            f"{self.currency} {_PERIOD_WORD[self.period]} {what}"
        )


class BudgetHold:
    """A call's reservation in its budgets; settle it with the call's actual cost, or release it."""

    __slots__ = ("_budgets", "_counters", "_open")

    def __init__(self, budgets: Budgets | None, counters: list[_Counter]) -> None:
        self._budgets = budgets
        self._counters = counters
        self._open = bool(counters)

    @property
    def active(self) -> bool:
        """False when no budget applies (nothing to settle)."""
        return self._open

    async def settle(self, actual: Decimal) -> list[str]:
        """Replace the reservation with ``actual``; returns the soft-limit warnings this call
        crossed (each is also logged to ``llmgateway.budgets``). Settling twice does nothing."""
        if not self._open or self._budgets is None:
            return []
        self._open = False
        return await self._budgets._settle(self._counters, units(max(actual, Decimal(0))))

    async def release(self) -> None:
        """The call cost nothing: give its reservation back."""
        if self._open and self._budgets is not None:
            self._open = False
            await self._budgets._settle(self._counters, 0, warn=False)


_NO_HOLD = BudgetHold(None, [])


class Budgets:
    """The gateway's budgets over one counter store (memory, or Redis shared by replicas)."""

    def __init__(
        self,
        config: BudgetsConfig,
        seed: Seed | None = None,
        *,
        store: CounterStore | None = None,
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.config = config
        self._seed = seed
        self._now = now
        self._store = store or _build_store(config)
        # Per scope: budgets for every name ("*"), and budgets for one name.
        self._every: dict[str, list[BudgetConfig]] = {}
        self._named: dict[str, dict[str, list[BudgetConfig]]] = {}
        for limit in config.limits:
            if limit.scope == "global" or limit.name == "*":
                self._every.setdefault(limit.scope, []).append(limit)
            else:
                self._named.setdefault(limit.scope, {}).setdefault(limit.name, []).append(limit)
        self._seeded: dict[str, datetime | None] = {}  # counter id -> its period's end
        self._seeding: dict[str, asyncio.Task[None]] = {}
        self._warned: set[str] = set()

    @property
    def store(self) -> CounterStore:
        return self._store

    def _matches(self, caller: Caller, model: str, currency: str) -> list[tuple[str, str, BudgetConfig]]:
        found = []
        for scope, name in (("key", caller.key), ("team", caller.team), ("model", model), ("global", "*")):
            if name is None:
                continue
            for limit in self._every.get(scope, ()):
                if limit.currency == currency:
                    found.append((scope, name, limit))
            named = self._named.get(scope)
            if named:
                for limit in named.get(name, ()):
                    if limit.currency == currency:
                        found.append((scope, name, limit))
        # The caller's own budgets (a virtual key's): counted on its key's counters.
        if caller.key is not None:
            found.extend(("key", caller.key, b) for b in caller.budgets if b.currency == currency)
        return found

    def _counters(self, matches: list[tuple[str, str, BudgetConfig]]) -> list[_Counter]:
        now = self._now()
        counters: dict[str, _Counter] = {}
        for scope, name, limit in matches:
            win = window(limit.period, now)
            cid = f"{scope}:{limit.period}:{win.tag}:{limit.currency}:{name}"
            counter = counters.get(cid)
            if counter is None:
                counter = _Counter(cid, scope, name, limit.period, win, limit.currency, None, ())
                counters[cid] = counter
            if limit.hard is not None and (
                counter.hard is None or counter.hard.hard is None or limit.hard < counter.hard.hard
            ):
                counter.hard = limit
            if limit.soft is not None:
                counter.softs = (*counter.softs, limit)
        return list(counters.values())

    async def reserve(
        self, caller: Caller, model: str, estimate: Decimal, *, currency: str = "USD"
    ) -> BudgetHold:
        """Hold ``estimate`` in every budget of this call; raises ``BudgetExceededError`` (and
        holds nothing) if it could pass a hard limit. A call no budget matches awaits nothing."""
        if not self._every and not self._named and not caller.budgets:
            return _NO_HOLD
        matches = self._matches(caller, model, currency)
        if not matches:
            return _NO_HOLD
        counters = self._counters(matches)
        if self._seed is not None:
            await self._ensure_seeded(counters)
        amount = units_up(max(estimate, Decimal(0)))
        outcome = await self._store.reserve_many(
            [
                Reservation(
                    c.id,
                    amount,
                    units(c.hard.hard) if c.hard is not None and c.hard.hard is not None else None,
                    c.window.expires_at,
                )
                for c in counters
            ]
        )
        if not outcome.allowed:
            assert outcome.rejected is not None
            refused = counters[outcome.rejected]
            assert refused.hard is not None and refused.hard.hard is not None
            spent = outcome.spent_before[outcome.rejected]
            text = refused.describe(spent, refused.hard.hard, "budget")
            advice = "wait for the reset or raise" if refused.window.end is not None else "raise"
            raise BudgetExceededError(
                f"{text} and this call may cost up to {_fmt(estimate)}; {refused.window.resets()}. "
                f"To spend more, {advice} its hard limit in budgets.limits",
                code="budget_exceeded",
            )
        for counter in counters:
            counter.reserved = amount
        return BudgetHold(self, counters)

    async def _settle(self, counters: list[_Counter], actual: int, *, warn: bool = True) -> list[str]:
        values = await self._store.adjust_many(
            [(c.id, actual - c.reserved, c.window.expires_at) for c in counters]
        )
        if not warn:
            return []
        warnings = []
        for counter, value in zip(counters, values, strict=True):
            for limit in counter.softs:
                assert limit.soft is not None
                soft = units(limit.soft)
                flag = f"{counter.id}:warned:{soft}"
                if value < soft or flag in self._warned:
                    continue
                self._warned.add(flag)
                if await self._store.mark_once(flag, counter.window.expires_at):
                    text = counter.describe(value, limit.soft, "soft limit")
                    warnings.append(f"{text}; {counter.window.resets()}")
                    logger.warning("budget: %s", warnings[-1])
        return warnings

    async def _ensure_seeded(self, counters: list[_Counter]) -> None:
        for counter in counters:
            if counter.id in self._seeded:
                continue
            task = self._seeding.get(counter.id)
            if task is None:
                task = asyncio.ensure_future(self._seed_counter(counter))
                self._seeding[counter.id] = task
            # Shielded: one caller giving up must not cancel the seeding others wait for.
            await asyncio.shield(task)

    async def _seed_counter(self, counter: _Counter) -> None:
        assert self._seed is not None
        try:
            if not await self._store.exists(counter.id):
                if counter.scope == "global":
                    spent = await self._seed(None, None, counter.window.start)
                else:
                    column = cast(SeedColumn, counter.scope)
                    spent = await self._seed(column, counter.name, counter.window.start)
                await self._store.seed(counter.id, units(spent), counter.window.expires_at)
        except Exception:
            # A missing ledger must not stop every call: count from zero and say so.
            logger.warning(
                "budget: could not seed %s from the ledger; counting from 0", counter.id, exc_info=True
            )
        finally:
            self._seeding.pop(counter.id, None)
            if len(self._seeded) >= _SEEDED_PRUNE_AT:
                now = self._now()
                self._seeded = {k: end for k, end in self._seeded.items() if end is None or end > now}
            self._seeded[counter.id] = counter.window.end

    async def aclose(self) -> None:
        for task in list(self._seeding.values()):
            task.cancel()
        await self._store.aclose()


def _build_store(config: BudgetsConfig) -> CounterStore:
    if config.backend == "redis":
        from llmgateway.accounting.budgets.redis_store import RedisCounterStore

        assert config.redis_url is not None  # checked by BudgetsConfig
        return RedisCounterStore(config.redis_url, config.prefix)
    from llmgateway.accounting.budgets.memory_store import MemoryCounterStore

    return MemoryCounterStore()


def check_currencies(
    config: BudgetsConfig, currencies: Mapping[str, str] | Iterable[tuple[str, str]]
) -> None:
    """Reject deployments whose prices are in a currency no budget counts: their spend would pass
    every budget by. ``currencies`` maps deployment name -> its pricing currency."""
    counted = {limit.currency for limit in config.limits}
    if not counted:
        return
    items = currencies.items() if isinstance(currencies, Mapping) else currencies
    stray = sorted(f"{name} ({currency})" for name, currency in items if currency not in counted)
    if stray:
        raise ConfigError(
            f"budgets count only {', '.join(sorted(counted))}, but deployments {', '.join(stray)} are "
            "priced in another currency; price them in a budget's currency or add budgets in theirs"
        )
