"""SIGTERM without losing the books.

Python's default SIGTERM ends the process at once: calls in flight vanish, and so would the
usage-ledger records still queued for their batch. When a gateway keeps a ledger and nothing else
in the process handles SIGTERM (a server such as uvicorn has its own, graceful, handler), the
gateway takes it on its event loop: every such gateway in the process stops taking calls, lets
those in flight finish (for at most ``shutdown.drain_seconds``), writes its ledger and closes;
then the process ends by SIGTERM, as it would have anyway.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import weakref
from collections.abc import Awaitable, Callable

logger = logging.getLogger("llmgateway.shutdown")


class _ProcessSigterm:
    """The one SIGTERM handler of the process and the gateways it shuts down. A signal's
    disposition belongs to the whole process, so this is the one piece of state shared by the
    gateways in it, on purpose (weakly: a gateway that is gone drops out)."""

    def __init__(self) -> None:
        self.guards: weakref.WeakSet[SigtermGuard] = weakref.WeakSet()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task[None] | None = None

    def install(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Take SIGTERM on ``loop``, unless someone else already handles it."""
        if self.loop is loop:
            return True
        ours = self.loop is not None and not self.loop.is_closed()
        if not ours and signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return False
        if ours:
            return False  # taken on another loop of this process, still running
        loop.add_signal_handler(signal.SIGTERM, self._on_sigterm)
        self.loop = loop
        return True

    def _on_sigterm(self) -> None:
        if self.task is None and self.loop is not None:
            logger.warning("SIGTERM: finishing calls in flight and writing the usage ledger before exit")
            self.task = self.loop.create_task(self._terminate())

    async def _terminate(self) -> None:
        guards = list(self.guards)
        try:
            try:
                await asyncio.gather(*(g.shutdown() for g in guards), return_exceptions=True)
            except asyncio.CancelledError:
                # The application's loop is ending too (asyncio.run cancels what is left): the
                # books still get written before the process goes.
                await asyncio.gather(*(g.shutdown() for g in guards), return_exceptions=True)
        finally:
            self.uninstall()
            os.kill(os.getpid(), signal.SIGTERM)

    def uninstall(self) -> None:
        """Back to the default disposition, if the handler is ours (never touch another's)."""
        loop, self.loop = self.loop, None
        if loop is None:
            return
        if not loop.is_closed():
            try:
                loop.remove_signal_handler(signal.SIGTERM)
            except (RuntimeError, ValueError):  # the loop is gone
                pass
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


_PROCESS = _ProcessSigterm()


class SigtermGuard:
    """One gateway's part: joins the process's SIGTERM handling from the loop it is used on."""

    def __init__(self, shutdown: Callable[[], Awaitable[None]]) -> None:
        self.shutdown = shutdown
        self._loop: asyncio.AbstractEventLoop | None = None

    def ensure(self) -> None:
        loop = asyncio.get_running_loop()
        if loop is self._loop:
            return
        self._loop = loop
        if threading.current_thread() is not threading.main_thread():
            return  # signals reach the main thread only
        if _PROCESS.install(loop):
            _PROCESS.guards.add(self)

    def remove(self) -> None:
        """The gateway closed: it has nothing left to write."""
        self._loop = None
        _PROCESS.guards.discard(self)
        if (
            not _PROCESS.guards
            and _PROCESS.task is None
            and threading.current_thread() is threading.main_thread()
        ):
            _PROCESS.uninstall()
