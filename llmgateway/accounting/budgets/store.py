"""Budget counters: spend in exact integer units, reserved and adjusted atomically.

Money is counted in units of 1e-9 of the currency (``UNITS``), so a counter is an integer that
Redis can ``INCRBY`` exactly. Reservations round up to the next unit (a reservation never
understates a call's cost); settlements round to the nearest unit, so the error is under half a
unit (5e-10) per call. Counters stay exact up to 2**53 units, about 9 million currency units per
counter and period (Redis scripts compare in doubles).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal

UNITS = 10**9
_SCALE = Decimal(UNITS)


def units_up(amount: Decimal) -> int:
    """A reservation in units, rounded up."""
    return int((amount * _SCALE).to_integral_value(rounding=ROUND_CEILING))


def units(amount: Decimal) -> int:
    """A settled cost in units, rounded to the nearest."""
    return int((amount * _SCALE).to_integral_value(rounding=ROUND_HALF_EVEN))


def money(count: int) -> Decimal:
    return Decimal(count).scaleb(-9)


@dataclass(frozen=True, slots=True)
class Reservation:
    counter: str
    amount: int
    hard: int | None  # None: no hard limit on this counter, just count
    expires_at: int | None = None  # unix seconds after which the counter may be dropped


@dataclass(frozen=True, slots=True)
class ReserveOutcome:
    allowed: bool
    # Each counter's spend (settled plus in-flight reservations) before this reservation; when
    # refused, up to and including the counter that refused (``rejected``, an index).
    spent_before: tuple[int, ...]
    rejected: int | None = None


class CounterStore(ABC):
    """Where budget counters live. ``reserve_many`` admits a call only if it fits every counter's
    hard limit, and then adds it to all of them, in one atomic step."""

    @abstractmethod
    async def reserve_many(self, reservations: Sequence[Reservation]) -> ReserveOutcome: ...

    @abstractmethod
    async def adjust_many(self, adjustments: Sequence[tuple[str, int, int | None]]) -> list[int]:
        """Add each ``(counter, delta, expires_at)``'s delta; returns the new values."""

    @abstractmethod
    async def get(self, counter: str) -> int: ...

    @abstractmethod
    async def exists(self, counter: str) -> bool: ...

    @abstractmethod
    async def seed(self, counter: str, amount: int, expires_at: int | None) -> bool:
        """Set the counter to ``amount`` if it does not exist yet; True if it was set."""

    @abstractmethod
    async def mark_once(self, flag: str, expires_at: int | None) -> bool:
        """True the first time ``flag`` is marked (until it expires), False after."""

    async def aclose(self) -> None:  # noqa: B027 - nothing to close by default
        pass

    async def reserve(
        self, counter: str, amount: int, hard: int | None, expires_at: int | None = None
    ) -> tuple[bool, int]:
        """Admit iff spent (with in-flight reservations) + amount <= hard; if so add amount.
        Returns (admitted, spent before)."""
        outcome = await self.reserve_many([Reservation(counter, amount, hard, expires_at)])
        return outcome.allowed, outcome.spent_before[0]

    async def adjust(self, counter: str, delta: int, expires_at: int | None = None) -> int:
        return (await self.adjust_many([(counter, delta, expires_at)]))[0]
