"""Which share of a dedicated endpoint's instance time each call used.

A dedicated endpoint is billed per instance-hour whether it is busy or not. The gateway charges
each call the instance time it occupied, shared out by processor sharing: with ``k`` instances
and ``n`` calls in flight, a call occupies at most one instance, so

- ``n <= k``: every call has an instance to itself and accrues ``dt`` per ``dt`` of wall time;
- ``n > k``: all ``k`` instances are busy and ``n`` calls share them: each accrues ``dt * k / n``.

So each call accrues ``dt * min(1, k / n)`` and the calls' shares sum to the instances' busy time
``∫ min(n, k) dt``. Idle instance time belongs to no call: the sum of what calls paid
undercounts the endpoint's bill by its idle share (the ledger shows utilisation that way).

Each start or stop is O(1): the clock keeps the running integral ``I(t) = ∫ min(1, k / n) dt``; a
ticket remembers ``I`` at its start, and its share is ``I(stop) - I(start)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class InstanceTicket:
    """One call's claim on the clock; hand it back to ``InstanceClock.stop``."""

    __slots__ = ("done", "start_integral")

    def __init__(self, start_integral: float) -> None:
        self.start_integral = start_integral
        self.done = False


class InstanceClock:
    """Attributes a dedicated deployment's instance time to the calls in flight on it."""

    __slots__ = ("_clock", "_in_flight", "_integral", "_last", "instances")

    def __init__(self, instances: int = 1, *, clock: Callable[[], float] = time.monotonic) -> None:
        if instances < 1:
            raise ValueError(f"instances must be at least 1, got {instances}")
        self.instances = instances
        self._clock = clock
        self._in_flight = 0
        self._integral = 0.0
        self._last = clock()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def _advance(self) -> None:
        now = self._clock()
        n = self._in_flight
        if n:
            self._integral += (now - self._last) * (1.0 if n <= self.instances else self.instances / n)
        self._last = now

    def start(self) -> InstanceTicket:
        self._advance()
        if self._in_flight == 0:
            # Nobody holds a ticket: restart the integral so it stays small and exact.
            self._integral = 0.0
        self._in_flight += 1
        return InstanceTicket(self._integral)

    def stop(self, ticket: InstanceTicket) -> float:
        """The instance-seconds the call used; a ticket stopped twice counts once (then 0.0)."""
        if ticket.done:
            return 0.0
        ticket.done = True
        self._advance()
        self._in_flight -= 1
        return max(self._integral - ticket.start_integral, 0.0)
