"""The pool's worker processes from start to exit: launch, wait until ready, watch, stop.

``ReplicaLifecycle`` owns the replicas of one pool and what they need (a log directory, the HTTP
client their providers share): it starts a worker and opens it to traffic, turns a failed start
into a back-off before the next one, retires a worker (out of routing at once, terminated in the
background), and notices one that exits on its own. It knows nothing of routing or scaling: the
pool reads ``replicas`` to route and decides when to launch or retire, and hears back through
``PoolHooks``. It keeps the start record the scaler reads: when capacity last grew and when the
next start is allowed.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmgateway.transport import HttpPool
from local_backend.replica_process import Replica, ReplicaStartError, ReplicaState, free_port
from local_backend.replica_settings import ReplicaPoolSettings
from local_backend.scaling import ScalingPolicy

# The pool's logger: operators read one stream for the whole pool.
logger = logging.getLogger("local_backend.replicas")


@dataclass(frozen=True)
class PoolHooks:
    """What the lifecycle tells the pool."""

    record: Callable[[str, int, int, str], None]  # a scale event: kind, replicas before, after, reason
    opened: Callable[[], None]  # a replica is ready: hand it queued calls
    lost: Callable[[ReplicaStartError | None], None]  # one left routing: its start failed, or None: it exited


class ReplicaLifecycle:
    """One pool's worker processes; see the module docstring."""

    def __init__(
        self,
        settings: ReplicaPoolSettings,
        policy: ScalingPolicy,
        hooks: PoolHooks,
        http: HttpPool | None = None,
        log_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self._settings = settings
        self._policy = policy
        self._hooks = hooks
        self._http = http
        self._owns_http = http is None
        self._log_dir_arg = Path(log_dir) if log_dir is not None else None
        self._log_dir: Path | None = None
        self.replicas: list[Replica] = []  # ready or starting, in start order: what the pool routes to
        self.retiring: list[Replica] = []  # out of routing, being terminated
        self._tasks: set[asyncio.Task[None]] = set()
        self._serials = itertools.count()
        self.evidence_since = 0.0  # queue waits before this (last capacity increase) don't count
        self.start_failures = 0
        self.next_start_at = 0.0  # no start before this: back-off after failed starts
        self.last_start_error: ReplicaStartError | None = None

    def prepare(self) -> None:
        """The log directory (a temporary one unless given) and the HTTP client, before any launch."""
        if self._log_dir_arg is not None:
            self._log_dir_arg.mkdir(parents=True, exist_ok=True)
            self._log_dir = self._log_dir_arg
        else:
            self._log_dir = Path(tempfile.mkdtemp(prefix="llmgateway-replicas-"))
        if self._http is None:
            self._http = HttpPool()

    async def cancel_tasks(self, *others: asyncio.Task[None] | None) -> None:
        """Cancel the background work (launches, watches, reaps) and ``others``, and wait for it."""
        tasks = [t for t in (*others, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        """Terminate every worker (SIGTERM, then SIGKILL); release the HTTP client and temporary logs."""
        replicas = [*self.replicas, *self.retiring]
        self.replicas.clear()
        self.retiring.clear()
        await asyncio.gather(
            *(r.terminate(self._settings.stop_grace) for r in replicas), return_exceptions=True
        )
        if self._http is not None and self._owns_http:
            await self._http.aclose()
            self._http = None
        if self._log_dir is not None and self._log_dir_arg is None:
            shutil.rmtree(self._log_dir, ignore_errors=True)
        self._log_dir = None

    def spawn_launch(self, reason: str) -> None:
        self._track(self.launch(reason))

    async def launch(self, reason: str) -> None:
        """Start one replica, wait until it answers, then open it to traffic; raise if it cannot start."""
        assert self._log_dir is not None
        slot = self._free_slot()
        port = free_port()
        replica = Replica(next(self._serials), slot, port, self._log_dir / f"replica-{slot}-{port}.log")
        before = len(self.replicas)
        self.replicas.append(replica)
        self._hooks.record("scale up", before, before + 1, reason)
        settings = self._settings
        deadline = time.monotonic() + settings.startup_timeout
        try:
            extra = settings.replica_env(slot) if settings.replica_env else {}
            await replica.spawn(settings.command(port), {**os.environ, **extra})
            await replica.wait_ready(settings.ping_path, deadline)
        except asyncio.CancelledError:
            raise  # close() terminates whatever is still in the lists
        except Exception as exc:
            raise self._start_failed(replica, exc) from exc
        self._open(replica)

    def retire(self, replica: Replica, kind: str, reason: str) -> None:
        """Take a replica out of routing now and terminate it in the background."""
        if replica not in self.replicas:
            return
        before = len(self.replicas)
        self.replicas.remove(replica)
        replica.state = ReplicaState.STOPPING
        self.retiring.append(replica)
        self._hooks.record(kind, before, before - 1, reason)

        async def reap() -> None:
            await replica.terminate(self._settings.stop_grace)
            self.retiring.remove(replica)

        self._track(reap())

    def _track(self, coro: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: failures were logged and recorded where they happened

    def _free_slot(self) -> int:
        """The lowest slot no replica uses; one still shutting down keeps its slot (its GPU) if it can."""
        live = {r.slot for r in self.replicas}
        busy = live | {r.slot for r in self.retiring}
        free = [i for i in range(self._settings.max_replicas) if i not in busy]
        return free[0] if free else next(i for i in itertools.count() if i not in live)

    def _open(self, replica: Replica) -> None:
        from providers.openai_compat import OpenAICompatProvider, OpenAICompatSettings

        name = self._settings.name
        settings = OpenAICompatSettings(
            base_url=f"http://127.0.0.1:{replica.port}{self._settings.api_prefix}",
            timeout=self._settings.request_timeout,
        )
        assert self._http is not None
        replica.provider = OpenAICompatProvider(f"{name}/{replica.slot}", settings, self._http.sender())
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
        self._track(self._watch(replica))
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
        self.retire(replica, "start failed", error.message.splitlines()[0])
        self._hooks.lost(error)
        return error

    async def _watch(self, replica: Replica) -> None:
        """Retire a replica whose process exits on its own; the scaler replaces it if needed."""
        assert replica.process is not None
        code = await replica.process.wait()
        if replica.state is ReplicaState.STOPPING or replica not in self.replicas:
            return
        logger.warning(
            "replica pool '%s': replica %d (pid %s) exited with code %s; output tail:\n%s",
            self._settings.name,
            replica.slot,
            replica.pid,
            code,
            replica.log_tail(),
        )
        self.retire(replica, "replica exited", f"replica {replica.slot} exited with code {code}")
        self._hooks.lost(None)
