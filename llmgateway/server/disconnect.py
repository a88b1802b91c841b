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
    __slots__ = ("_target", "_task", "gone")

    def __init__(self, receive: Receive) -> None:
        self.gone = False
        target = asyncio.current_task()
        assert target is not None
        self._target = target
        self._task: asyncio.Task[None] | None = asyncio.get_running_loop().create_task(self._watch(receive))

    async def _watch(self, receive: Receive) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                if self._task is not None:  # still watching: the client left mid-call
                    self.gone = True
                    self._target.cancel()
                return

    def stop(self) -> None:
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
