"""One replica of the pool from start to exit: spawn, wait until it answers, open, watch.

``ReplicaLifecycle`` brings a worker process up and opens it to traffic, turns a failed start
into a back-off before the next one, and watches a ready worker for an exit nobody asked for. It
owns no membership: the pool's routing list, its queue and its background tasks are reached
through ``PoolHooks`` (``local_backend.replicas`` passes its own methods). It keeps the start
record the scaler reads: when capacity last grew and when the next start is allowed.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmgateway.transport import HttpSender
from local_backend.replica_process import Replica, ReplicaStartError, ReplicaState, free_port
from local_backend.replica_settings import ReplicaPoolSettings
from local_backend.scaling import ScalingPolicy

# The pool's logger: its operators read one stream for the whole pool.
logger = logging.getLogger("local_backend.replicas")


@dataclass(frozen=True)
class PoolHooks:
    """What the lifecycle asks of the pool."""

    routes_to: Callable[[Replica], bool]  # still in routing (starting or ready)
    retire: Callable[[Replica, str, str], None]  # (replica, event kind, reason): out of routing, stopped
    track: Callable[[Coroutine[Any, Any, None]], None]  # run in the background until the pool stops
    sender: Callable[[], HttpSender]  # the pool's HTTP client, for a replica's provider
    opened: Callable[[], None]  # a replica is ready: hand it queued calls
    lost: Callable[
        [ReplicaStartError | None], None
    ]  # one left routing: its start failed, or (None) it exited


class ReplicaLifecycle:
    def __init__(self, settings: ReplicaPoolSettings, policy: ScalingPolicy, hooks: PoolHooks) -> None:
        self._settings = settings
        self._policy = policy
        self._hooks = hooks
        self._serials = itertools.count()
        self.evidence_since = 0.0  # queue waits before this (last capacity increase) don't count
        self.start_failures = 0
        self.next_start_at = 0.0  # no start before this: back-off after failed starts
        self.last_start_error: ReplicaStartError | None = None

    def new_replica(self, slot: int, log_dir: Path) -> Replica:
        port = free_port()
        return Replica(next(self._serials), slot, port, log_dir / f"replica-{slot}-{port}.log")

    async def bring_up(self, replica: Replica) -> None:
        """Spawn the worker, wait until it answers, then open it to traffic; raise if it cannot start."""
        settings = self._settings
        deadline = time.monotonic() + settings.startup_timeout
        try:
            extra = settings.replica_env(replica.slot) if settings.replica_env else {}
            await replica.spawn(settings.command(replica.port), {**os.environ, **extra})
            await replica.wait_ready(settings.ping_path, deadline)
        except asyncio.CancelledError:
            raise  # the pool's stop() terminates whatever is still in its lists
        except Exception as exc:
            raise self._start_failed(replica, exc) from exc
        self._open(replica)

    def _open(self, replica: Replica) -> None:
        from providers.openai_compat import OpenAICompatProvider, OpenAICompatSettings

        name = self._settings.name
        settings = OpenAICompatSettings(
            base_url=f"http://127.0.0.1:{replica.port}{self._settings.api_prefix}",
            timeout=self._settings.request_timeout,
        )
        replica.provider = OpenAICompatProvider(f"{name}/{replica.slot}", settings, self._hooks.sender())
        replica.state = ReplicaState.READY
        replica.last_used = self.evidence_since = time.monotonic()
        self.start_failures = 0
        self.last_start_error = None
        logger.info(
            "replica pool '%s': replica %d ready on port %d (pid %s)",
            name,
            replica.slot,
            replica.port,
            replica.pid,
        )
        self._hooks.track(self._watch(replica))
        self._hooks.opened()

    def _start_failed(self, replica: Replica, exc: Exception) -> ReplicaStartError:
        """Retire the replica and back off further starts; the pool fails queued calls if none is left."""
        error = (
            exc
            if isinstance(exc, ReplicaStartError)
            else ReplicaStartError(
                f"replica {replica.slot} could not be started: {type(exc).__name__}: {exc}"
            )
        )
        error.deployment = self._settings.name
        logger.error("replica pool '%s': %s", self._settings.name, error.message)
        self.last_start_error = error
        self.start_failures += 1
        self.next_start_at = time.monotonic() + self._policy.restart_delay(self.start_failures)
        self._hooks.retire(replica, "start failed", error.message.splitlines()[0])
        self._hooks.lost(error)
        return error

    async def _watch(self, replica: Replica) -> None:
        """Retire a replica whose process exits on its own; the scaler replaces it if needed."""
        assert replica.process is not None
        code = await replica.process.wait()
        if replica.state is ReplicaState.STOPPING or not self._hooks.routes_to(replica):
            return
        logger.warning(
            "replica pool '%s': replica %d (pid %s) exited with code %s; output tail:\n%s",
            self._settings.name,
            replica.slot,
            replica.pid,
            code,
            replica.log_tail(),
        )
        self._hooks.retire(replica, "replica exited", f"replica {replica.slot} exited with code {code}")
        self._hooks.lost(None)
