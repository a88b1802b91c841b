"""What one call's tries charged, settled once the call is over: the deployments' token-rate
reservations, and the instance-time tickets of deployments priced per instance-hour.

Only the winning try used what it was charged for; failed tries, hedged copies that lost and
earlier rounds are refunded, so a flapping deployment does not throttle itself with tokens it
never generated, and a lost race does not keep an instance counted busy.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from llmgateway.routing.deployment import Deployment

if TYPE_CHECKING:
    from llmgateway.accounting.instance_time import InstanceTicket
    from llmgateway.reliability.attempts import AttemptLog

T = TypeVar("T")


async def settle_tries(log: AttemptLog, winner: Deployment | None, used_tokens: int) -> None:
    """Correct every try's token-rate charge: the winner's latest to ``used_tokens``, the rest
    to nothing."""
    reservations, log.reservations = log.reservations, []
    won = None
    if winner is not None:
        won = next((r for d, r in reversed(reservations) if d is winner), None)
    for _, reservation in reservations:
        await reservation.settle(used_tokens if reservation is won else 0)


def settles_remotely(log: AttemptLog) -> bool:
    """Whether settling is a round trip (the limits live in Redis): then it runs on its own."""
    return any(d.limit_store is not None and d.limit_store.shared for d, _ in log.reservations)


class Tickets:
    """The instance-time tickets of one call's tries (see InstanceClock). A unary try's ticket
    stops when it returns; a stream's stays open until the stream is over. Once the race is
    decided (``seal``), every ticket but the winner's stops, including those of tries that
    answer later."""

    __slots__ = ("_open", "_seconds", "_winner")

    def __init__(self) -> None:
        self._open: dict[str, tuple[Deployment, InstanceTicket]] = {}
        self._seconds: dict[str, float] = {}
        self._winner: Deployment | None = None

    def wrap(
        self, call: Callable[[Deployment], Awaitable[T]], *, streams: bool
    ) -> Callable[[Deployment], Awaitable[T]]:
        async def run(deployment: Deployment) -> T:
            clock = deployment.clock
            if clock is None:
                return await call(deployment)
            ticket = clock.start()
            try:
                result = await call(deployment)
            except BaseException:
                clock.stop(ticket)
                raise
            sealed = self._winner is not None and deployment is not self._winner
            if not streams or sealed:
                self._seconds[deployment.name] = clock.stop(ticket)
            else:
                self._open[deployment.name] = (deployment, ticket)
            return result

        return run

    def seal(self, winner: Deployment | None) -> None:
        """The race is over: stop every open ticket but ``winner``'s (all of them on failure)."""
        self._winner = winner
        for name, (deployment, ticket) in list(self._open.items()):
            if deployment is not winner:
                assert deployment.clock is not None
                self._seconds[name] = deployment.clock.stop(ticket)
                del self._open[name]

    def seconds(self, deployment: Deployment) -> float | None:
        """The deployment's share of its instance's time in this call; stops its ticket (once)."""
        held = self._open.pop(deployment.name, None)
        if held is not None:
            assert deployment.clock is not None
            return deployment.clock.stop(held[1])
        return self._seconds.pop(deployment.name, None)
