"""Cancel a request's work when its client goes away.

One small task per request waits on ``receive()``: once the body has been read, the only message
left is ``http.disconnect``. It cancels the request's task, which cancels the upstream call (and
the gateway books it as cancelled or closed). Stop it before sending the last body message: after
the response completes, servers answer ``receive()`` with a disconnect too.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.types import Receive


class DisconnectWatch:
    """Armed after ``delay`` seconds: a call that answers sooner never starts the watching task
    (most calls, and the cost of a task per request adds up); a client leaving a quick call is
    not worth cancelling anyway."""

    __slots__ = ("_receive", "_stopped", "_target", "_task", "_timer", "gone")

    def __init__(self, receive: Receive, delay: float = 0.05) -> None:
        self.gone = False
        target = asyncio.current_task()
        assert target is not None
        self._target = target
        self._receive = receive
        self._stopped = False
        self._task: asyncio.Task[None] | None = None
        self._timer = asyncio.get_running_loop().call_later(delay, self._arm)

    def _arm(self) -> None:
        if not self._stopped:
            self._task = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                if not self._stopped:  # still watching: the client left mid-call
                    self.gone = True
                    self._target.cancel()
                return

    def stop(self) -> None:
        self._stopped = True
        self._timer.cancel()
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()

    def absorb(self) -> bool:
        """In an ``except CancelledError``: True (and the cancellation undone) when the cancel was
        ours, because the client left; False when someone else cancels the request."""
        self.stop()
        if not self.gone:
            return False
        self._target.uncancel()
        return True
