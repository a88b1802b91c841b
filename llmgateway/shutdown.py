"""SIGTERM without losing the books.

Python's default SIGTERM ends the process at once: calls in flight vanish, and so would the
usage-ledger records still queued for their batch. When a gateway keeps a ledger and nothing else
in the process handles SIGTERM (a server such as uvicorn has its own, graceful, handler), the
gateway takes it on its event loop: it stops taking calls, lets those in flight finish (for at
most ``shutdown.drain_seconds``), writes the ledger, closes, and then ends the process by SIGTERM
as it would have ended anyway.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from collections.abc import Awaitable, Callable

logger = logging.getLogger("llmgateway.shutdown")


class SigtermGuard:
    """Installs the handler on the loop a gateway is used from (once per loop)."""

    def __init__(self, shutdown: Callable[[], Awaitable[None]]) -> None:
        self._shutdown = shutdown
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    def ensure(self) -> None:
        loop = asyncio.get_running_loop()
        if loop is self._loop:
            return
        self._loop = loop
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return  # someone else decides what SIGTERM does here
        loop.add_signal_handler(signal.SIGTERM, self._on_sigterm)

    def _on_sigterm(self) -> None:
        if self._task is None and self._loop is not None:
            logger.warning("SIGTERM: finishing calls in flight and writing the usage ledger before exit")
            self._task = self._loop.create_task(self._terminate())

    async def _terminate(self) -> None:
        try:
            try:
                await self._shutdown()
            except asyncio.CancelledError:
                # The application's loop is ending too (asyncio.run cancels what is left):
                # the books still get written before the process goes.
                await self._shutdown()
        finally:
            self.remove()
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    def remove(self) -> None:
        loop, self._loop = self._loop, None
        if (
            loop is not None
            and not loop.is_closed()
            and threading.current_thread() is threading.main_thread()
        ):
            try:
                loop.remove_signal_handler(signal.SIGTERM)
            except (RuntimeError, ValueError):  # the loop is gone or was never ours
                pass
