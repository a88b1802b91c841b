"""An elastic pool of local-backend worker processes: scale up with queue wait, down when idle.

Each replica is one worker subprocess (by default ``python -m local_backend serve``) on its own
127.0.0.1 port, in its own process group, reached through an ``OpenAICompatProvider``. The pool
has a provider's call surface (``chat``, ``stream_chat``, ``completions``, ``embeddings``):

- routing: a call goes to the least-loaded ready replica (ties: the oldest one, so light traffic
  packs onto few replicas and the rest go idle and can be reclaimed); when every replica holds
  ``max_concurrency`` calls, the call waits in a FIFO queue of at most ``max_queue`` entries, and
  a full queue raises ``RateLimitError`` with ``retry_after``.
- scaling: every ``scale_interval`` seconds a background task asks the scaling policy
  (``local_backend.scaling``, where the rules are spelled out) whether to add one replica (below
  ``min_replicas``, or queue wait above ``target_queue_wait`` while below ``max_replicas``) or to
  stop one idle for ``idle_seconds`` (while more than ``min_replicas`` are up), and carries it
  out. With ``min_replicas=0`` the pool goes to zero and the next call starts a replica and waits
  for it (bounded by ``startup_timeout``).
- crashes: a replica whose process exits is dropped (logged) and replaced if below the minimum.

The worker processes themselves (launch, health check, watch, terminate) are
``local_backend.replica_lifecycle``'s; the settings and their checks are ``replica_settings``'s.

Every scale event is logged at INFO and kept in the bounded ``events`` list.
On Linux each worker also gets SIGKILL if the thread that started it dies (``PR_SET_PDEATHSIG``),
so a crashed parent leaves no workers behind; ``stop()`` is still the normal way out.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import AsyncIterator
from types import TracebackType
from typing import TYPE_CHECKING, ClassVar

from llmgateway.errors import RateLimitError, ServiceUnavailableError
from llmgateway.provider import Capabilities
from llmgateway.transport import HttpPool
from llmgateway.types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Completion,
    CompletionRequest,
    EmbeddingRequest,
    EmbeddingResponse,
)

if TYPE_CHECKING:
    from providers.openai_compat import OpenAICompatProvider

from local_backend.replica_lifecycle import PoolHooks, ReplicaLifecycle
from local_backend.replica_process import (
    CommandFactory,
    EnvFactory,
    Replica,
    ReplicaStartError,
    ReplicaState,
    free_port,
    one_gpu_per_replica,
    serve_command,
)
from local_backend.replica_queue import SlotQueue
from local_backend.replica_settings import ReplicaPoolSettings
from local_backend.replica_stats import PoolStats, ReplicaInfo, ScaleEvent, p90
from local_backend.scaling import PoolObservation, StartReplica, StopReplica

logger = logging.getLogger(__name__)

__all__ = [
    "PoolStats",
    "ReplicaInfo",
    "ReplicaPool",
    "ReplicaStartError",
    "ScaleEvent",
    "free_port",
    "one_gpu_per_replica",
    "serve_command",
]


# ---------------------------------------------------------------------------------------------
# The pool
# ---------------------------------------------------------------------------------------------


class ReplicaPool:
    """Worker processes behind one provider-shaped object; see the module docstring."""

    kind: ClassVar[str] = "local-replicas"

    def __init__(
        self,
        command: CommandFactory | None = None,
        *,
        model: str = "tiny",
        min_replicas: int = 1,
        max_replicas: int = 1,
        max_concurrency: int = 8,
        max_queue: int = 128,
        target_queue_wait: float = 0.5,
        wait_window: float = 10.0,
        idle_seconds: float = 300.0,
        startup_timeout: float = 180.0,
        stop_grace: float = 10.0,
        scale_interval: float = 0.5,
        restart_backoff: float = 1.0,
        replica_env: EnvFactory | None = None,
        ping_path: str = "/ping",
        api_prefix: str = "/v1",
        request_timeout: float | None = None,
        http: HttpPool | None = None,
        log_dir: str | os.PathLike[str] | None = None,
        max_events: int = 256,
        name: str = "local-replicas",
    ) -> None:
        self.settings = s = ReplicaPoolSettings(
            command or serve_command(model),
            name=name,
            min_replicas=min_replicas,
            max_replicas=max_replicas,
            max_concurrency=max_concurrency,
            max_queue=max_queue,
            target_queue_wait=target_queue_wait,
            wait_window=wait_window,
            idle_seconds=idle_seconds,
            startup_timeout=startup_timeout,
            stop_grace=stop_grace,
            scale_interval=scale_interval,
            restart_backoff=restart_backoff,
            replica_env=replica_env,
            ping_path=ping_path,
            api_prefix=api_prefix,
            request_timeout=request_timeout,
            max_events=max_events,
        )
        self.name = name
        self.capabilities = Capabilities(chat=True, streaming=True, completions=True, embeddings=True)
        self._policy = s.policy()
        self._queue = SlotQueue(name, max_concurrency)
        self._events: deque[ScaleEvent] = deque(maxlen=max_events)
        self._event_count = 0
        self._scaler: asyncio.Task[None] | None = None
        self._running = False
        hooks = PoolHooks(
            record=self._record,
            opened=lambda: self._queue.dispatch(self._replicas),
            lost=self._replica_lost,
        )
        self._lifecycle = ReplicaLifecycle(s, self._policy, hooks, http, log_dir)

    # ---- start and stop -----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Started and not stopped."""
        return self._running

    async def start(self) -> None:
        """Start ``min_replicas`` workers (concurrently, waiting until all answer) and the scaler."""
        if self._running:
            return
        self._lifecycle.prepare()
        self._running = True
        try:
            starts = [
                self._lifecycle.launch("start: min_replicas") for _ in range(self.settings.min_replicas)
            ]
            results = await asyncio.gather(*starts, return_exceptions=True)
            failure = next((r for r in results if isinstance(r, BaseException)), None)
            if failure is not None:
                raise failure
        except BaseException:
            await self.stop()
            raise
        self._scaler = asyncio.get_running_loop().create_task(self._scale_loop(), name=f"{self.name}-scaler")

    async def stop(self) -> None:
        """Stop scaling, fail queued calls, terminate every worker (SIGTERM, then SIGKILL)."""
        self._running = False
        scaler, self._scaler = self._scaler, None
        await self._lifecycle.cancel_tasks(scaler)
        self._queue.fail_all(
            ServiceUnavailableError(f"replica pool '{self.name}' stopped", deployment=self.name)
        )
        await self._lifecycle.close()

    async def aclose(self) -> None:
        await self.stop()

    async def __aenter__(self) -> ReplicaPool:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # ---- what callers see ---------------------------------------------------------------------

    @property
    def events(self) -> list[ScaleEvent]:
        return list(self._events)

    def stats(self) -> PoolStats:
        now = time.monotonic()
        return PoolStats(
            ready=sum(r.state is ReplicaState.READY for r in self._replicas),
            starting=sum(r.state is ReplicaState.STARTING for r in self._replicas),
            queue_depth=len(self._queue.waiters),
            in_flight=sum(r.in_flight for r in self._replicas),
            recent_queue_wait=p90(
                [w for at, _, w in self._queue.waits if at >= now - self.settings.wait_window]
            ),
            scale_events=self._event_count,
            replicas=tuple(
                ReplicaInfo(r.slot, r.port, r.pid, r.state.value, r.in_flight, r.served)
                for r in self._replicas
            ),
        )

    async def chat(self, request: ChatCompletionRequest, *, timeout: float | None = None) -> ChatCompletion:
        replica, remaining = await self._acquire(timeout)
        try:
            return await _provider(replica).chat(request, timeout=remaining)
        finally:
            self._release(replica)

    async def completions(self, request: CompletionRequest, *, timeout: float | None = None) -> Completion:
        replica, remaining = await self._acquire(timeout)
        try:
            return await _provider(replica).completions(request, timeout=remaining)
        finally:
            self._release(replica)

    async def embeddings(
        self, request: EmbeddingRequest, *, timeout: float | None = None
    ) -> EmbeddingResponse:
        replica, remaining = await self._acquire(timeout)
        try:
            return await _provider(replica).embeddings(request, timeout=remaining)
        finally:
            self._release(replica)

    async def stream_chat(
        self, request: ChatCompletionRequest, *, timeout: float | None = None
    ) -> AsyncIterator[ChatCompletionChunk]:
        """The replica's slot is held until the stream ends or is closed."""
        replica, remaining = await self._acquire(timeout)
        stream = _provider(replica).stream_chat(request, timeout=remaining)
        try:
            async for chunk in stream:
                yield chunk
        finally:
            try:
                close = getattr(stream, "aclose", None)
                if close is not None:
                    await close()
            finally:
                self._release(replica)

    # ---- routing and the queue ----------------------------------------------------------------

    @property
    def _replicas(self) -> list[Replica]:
        """Ready or starting, in start order: the lifecycle's live list."""
        return self._lifecycle.replicas

    async def _acquire(self, timeout: float | None) -> tuple[Replica, float | None]:
        """A replica slot for one call, and what is left of ``timeout`` for the call itself."""
        if not self._running:
            raise ServiceUnavailableError(
                f"replica pool '{self.name}' is not running; call start() first", deployment=self.name
            )
        started = time.monotonic()
        queue = self._queue
        replica = None if queue.waiters else queue.pick(self._replicas)
        if replica is not None:
            queue.assign(replica, started)
            return replica, timeout
        if len(queue.waiters) >= self.settings.max_queue:
            wait = self._policy.queue_wait(started, self._observe())
            raise RateLimitError(
                f"replica pool '{self.name}' is saturated: {len(queue.waiters)} calls already queued "
                f"(max_queue={self.settings.max_queue})",
                retry_after=round(max(wait, self.settings.target_queue_wait), 3),
                deployment=self.name,
            )
        if not self._replicas:
            self._cold_start()
        replica = await queue.wait(started, timeout, self._replicas)
        remaining = None if timeout is None else max(timeout - (time.monotonic() - started), 0.001)
        return replica, remaining

    def _cold_start(self) -> None:
        """No replica at all: start one now for the call about to queue, unless in back-off."""
        wait = self._lifecycle.next_start_at - time.monotonic()
        if wait > 0:
            cause = self._lifecycle.last_start_error
            raise ServiceUnavailableError(
                f"replica pool '{self.name}' has no replica and the last start failed"
                + (f": {cause.message}" if cause else ""),
                retry_after=round(wait, 3),
                deployment=self.name,
            )
        self._lifecycle.spawn_launch("cold start: a call arrived with no replica up")

    def _release(self, replica: Replica) -> None:
        self._queue.release(replica, self._replicas)

    # ---- scaling ------------------------------------------------------------------------------

    async def _scale_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.scale_interval)
            try:
                self._scale_once()
            except Exception:  # the scaler must outlive one bad tick
                logger.exception("replica pool '%s': scaler tick failed", self.name)

    def _scale_once(self) -> None:
        decision = self._policy.decide(time.monotonic(), self._observe())
        if isinstance(decision, StartReplica):
            self._lifecycle.spawn_launch(decision.reason)
        elif isinstance(decision, StopReplica):
            self._lifecycle.retire(decision.replica, "scale down", decision.reason)

    def _observe(self) -> PoolObservation:
        """What the scaling policy reads: live views, valid until the event loop moves on."""
        waiters = self._queue.waiters
        return PoolObservation(
            replicas=self._replicas,
            waits=self._queue.waits,
            queue_head_since=waiters[0].enqueued_at if waiters else None,
            evidence_since=self._lifecycle.evidence_since,
            next_start_at=self._lifecycle.next_start_at,
        )

    def _replica_lost(self, start_error: ReplicaStartError | None) -> None:
        """With no replica left, a failed start fails the queued calls; an exit starts one for them."""
        if self._replicas:
            return
        if start_error is not None:
            self._queue.fail_all(start_error)
        elif self._queue.waiters and self._running:
            self._lifecycle.spawn_launch("cold start: the last replica exited with calls queued")

    def _record(self, kind: str, before: int, after: int, reason: str) -> None:
        self._events.append(ScaleEvent(time.time(), kind, before, after, reason))
        self._event_count += 1
        level = logging.INFO if kind.startswith("scale") else logging.WARNING
        logger.log(level, "replica pool '%s': %s %d -> %d: %s", self.name, kind, before, after, reason)


def _provider(replica: Replica) -> OpenAICompatProvider:
    assert replica.provider is not None, "a replica is routed to only once it is ready"
    return replica.provider
