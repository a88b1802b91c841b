"""Continuous batching: many concurrent requests share each decode step of one model.

A background worker thread owns the model. Between two decode steps it lets waiting requests
join (one batched prefill for all newcomers), and after each step it lets finished or cancelled
requests leave; nobody waits for a whole batch to finish. Each request streams its tokens back to
its asyncio caller through a ``GenerationStream``.

Usage::

    scheduler = BatchScheduler(engine, max_batch=32, max_queue=256)
    await scheduler.start()
    async for event in scheduler.submit(GenerationRequest(prompt_ids=ids, max_tokens=64)):
        ...  # TokenDelta ... then one GenerationDone (usage, finish_reason, compute_seconds)
    done = await scheduler.generate(request)  # the same, collected
    await scheduler.stop()

Compute metering: a request's ``compute_seconds`` is its share of every step it took part in
(the step's wall time divided by the rows in that step) plus its share of the prefill it joined
in (the prefill's wall time split by prompt length).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from llmgateway.types import Usage
from local_backend.protocol import (
    EngineError,
    GenerationDone,
    GenerationEvent,
    GenerationRequest,
    QueueFullError,
    SchedulerClosedError,
    TokenDelta,
)
from local_backend.sampling import RowSampler, make_sampler, sample_tokens
from local_backend.text_stream import TextStream

if TYPE_CHECKING:
    from local_backend.engine import LocalEngine
    from local_backend.kv_batch import KVBatch

logger = logging.getLogger(__name__)

__all__ = ["BatchScheduler", "GenerationStream", "QueueFullError", "SchedulerStats"]

_Item = GenerationEvent | BaseException


class _Sink:
    """Hands events from the worker thread to one request's asyncio queue."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[_Item] = asyncio.Queue()

    def put(self, item: _Item) -> bool:
        """False when the caller's event loop is gone (the request should be dropped)."""
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:
            return False
        return True


@dataclass(eq=False)
class _Slot:
    """A request's live state; touched only by the worker thread once admitted."""

    request: GenerationRequest
    sink: _Sink
    budget: int
    sampler: RowSampler
    text: TextStream
    submitted_at: float
    cancelled: threading.Event = field(default_factory=threading.Event)
    token_ids: list[int] = field(default_factory=list)
    compute_seconds: float = 0.0


@dataclass(frozen=True)
class SchedulerStats:
    running: bool
    active: int
    queued: int
    completed: int
    cancelled: int
    steps: int


class GenerationStream:
    """Async iterator over one request's events. Leaving early (``cancel()``, ``aclose()``,
    ``async with`` exit, task cancellation, or dropping the object) frees its batch slot."""

    def __init__(self, scheduler: BatchScheduler, slot: _Slot) -> None:
        self._scheduler = scheduler
        self._slot = slot
        self._finished = False

    @property
    def request_id(self) -> str:
        return self._slot.request.request_id

    def __aiter__(self) -> GenerationStream:
        return self

    async def __anext__(self) -> GenerationEvent:
        if self._finished:
            raise StopAsyncIteration
        try:
            item = await self._slot.sink.queue.get()
        except asyncio.CancelledError:
            self.cancel()
            raise
        if isinstance(item, BaseException):
            self._finished = True
            raise item
        if isinstance(item, GenerationDone):
            self._finished = True
        return item

    async def collect(self) -> GenerationDone:
        """Drain the stream and return its final event."""
        async for event in self:
            if isinstance(event, GenerationDone):
                return event
        raise EngineError("stream ended without a final event")

    def cancel(self) -> None:
        if not self._finished:
            self._finished = True
            self._scheduler._cancel(self._slot)

    async def aclose(self) -> None:
        self.cancel()

    async def __aenter__(self) -> GenerationStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.cancel()

    def __del__(self) -> None:
        if not self._finished:
            self._slot.cancelled.set()


class BatchScheduler:
    def __init__(self, engine: LocalEngine, max_batch: int = 32, max_queue: int = 256) -> None:
        if max_batch < 1 or max_queue < 0:
            raise ValueError("max_batch must be >= 1 and max_queue >= 0")
        self.engine = engine
        self.max_batch = max_batch
        self.max_queue = max_queue
        self._cond = threading.Condition()
        self._pending: collections.deque[_Slot] = collections.deque()
        self._active: list[_Slot] = []
        self._batch: KVBatch | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._completed = 0
        self._cancelled = 0
        self._steps = 0
        self._admitting = 0  # taken from the queue, being prefilled, not yet active
        self._service_ewma: float | None = None  # seconds from admission to done
        self._outbox: list[tuple[_Sink, GenerationDone]] = []  # final events of finished rows

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self, warmup: bool = True) -> None:
        if self._thread is not None:
            return
        if warmup:
            await asyncio.to_thread(self._warmup)
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="local-backend-scheduler", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        """Stop the worker; requests still open get ``SchedulerClosedError``."""
        thread = self._thread
        if thread is None:
            return
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        await asyncio.to_thread(thread.join)
        self._thread = None

    async def __aenter__(self) -> BatchScheduler:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def stats(self) -> SchedulerStats:
        return SchedulerStats(
            running=self._thread is not None,
            active=len(self._active),
            queued=len(self._pending),
            completed=self._completed,
            cancelled=self._cancelled,
            steps=self._steps,
        )

    # -- submitting -------------------------------------------------------------------------

    def submit(self, request: GenerationRequest) -> GenerationStream:
        """Queue a request; iterate the returned stream for its events. Must be called from a
        running event loop. Raises ``QueueFullError``, ``PromptTooLongError`` or
        ``SchedulerClosedError`` at once."""
        budget = self.engine.completion_budget(request)
        slot = _Slot(
            request=request,
            sink=_Sink(asyncio.get_running_loop()),
            budget=budget,
            sampler=make_sampler(request.temperature, request.top_p, request.seed, self.engine.device.device),
            text=TextStream(self.engine.decode, request.stop),
            submitted_at=time.perf_counter(),
        )
        with self._cond:
            if self._thread is None or self._stopping:
                raise SchedulerClosedError("the scheduler is not running; call start() first")
            if (
                len(self._pending) >= self.max_queue
                and len(self._active) + len(self._pending) >= self.max_batch
            ):
                raise QueueFullError(self._retry_after(), len(self._pending))
            self._pending.append(slot)
            self._cond.notify()
        return GenerationStream(self, slot)

    async def generate(self, request: GenerationRequest) -> GenerationDone:
        """Run a request to the end and return its final event (non-streaming use)."""
        async with self.submit(request) as stream:
            return await stream.collect()

    def _retry_after(self) -> float:
        per_wave = self._service_ewma if self._service_ewma is not None else 1.0
        waves = math.ceil((len(self._pending) + 1) / self.max_batch)
        return round(max(0.1, per_wave * waves), 2)

    def _cancel(self, slot: _Slot) -> None:
        with self._cond:
            slot.cancelled.set()
            if slot in self._pending:
                self._pending.remove(slot)
                self._cancelled += 1

    # -- worker thread ----------------------------------------------------------------------

    def _warmup(self) -> None:
        ids = self.engine.encode("Hello")[:4] or [0]
        batch, _ = self.engine.prefill([ids])
        self.engine.step(batch, [ids[-1]])

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    while not self._stopping and not self._pending and not self._active:
                        self._cond.wait()
                    if self._stopping:
                        break
                    joiners = self._take_joiners()
                    # Counted while prefilling, so submit() bounds the queue with them included.
                    self._admitting = len(joiners)
                try:
                    self._drop_cancelled()
                    if joiners:
                        self._admit(joiners)
                    self._admitting = 0
                    if self._active:
                        self._decode()
                except Exception as exc:  # a failed step fails every request in it, not the worker
                    self._admitting = 0
                    logger.exception("local engine step failed")
                    self._deliver_finished()
                    self._fail_active(EngineError(f"local engine step failed: {exc}"), joiners)
        finally:
            closed = SchedulerClosedError("the scheduler was stopped")
            with self._cond:
                # Also when the worker died of a bug: submit() must refuse, not queue forever.
                self._stopping = True
                leftovers = list(self._pending)
                self._pending.clear()
            self._fail_active(closed, leftovers)

    def _take_joiners(self) -> list[_Slot]:
        joiners: list[_Slot] = []
        while self._pending and len(self._active) + len(joiners) < self.max_batch:
            slot = self._pending.popleft()
            if slot.cancelled.is_set():
                self._cancelled += 1
            else:
                joiners.append(slot)
        return joiners

    def _drop_cancelled(self) -> None:
        keep = [i for i, slot in enumerate(self._active) if not slot.cancelled.is_set()]
        if len(keep) < len(self._active):
            self._cancelled += len(self._active) - len(keep)
            self._keep_rows(keep)

    def _admit(self, joiners: list[_Slot]) -> None:
        started = time.perf_counter()
        batch, logits = self.engine.prefill([s.request.prompt_ids for s in joiners])
        tokens = sample_tokens(logits, [s.sampler for s in joiners])
        elapsed = time.perf_counter() - started
        total = sum(len(s.request.prompt_ids) for s in joiners)
        for slot in joiners:
            slot.compute_seconds += elapsed * len(slot.request.prompt_ids) / total
        keep = [
            i
            for i, (slot, token) in enumerate(zip(joiners, tokens, strict=True))
            if self._advance(slot, token)
        ]
        if keep:
            if len(keep) < len(joiners):
                batch.select(keep)
            if self._batch is None:
                self._batch = batch
            else:
                self._batch.merge(batch)
            self._active.extend(joiners[i] for i in keep)
        self._deliver_finished()

    def _decode(self) -> None:
        assert self._batch is not None
        started = time.perf_counter()
        logits = self.engine.step(self._batch, [s.token_ids[-1] for s in self._active])
        tokens = sample_tokens(logits, [s.sampler for s in self._active])
        share = (time.perf_counter() - started) / len(self._active)
        self._steps += 1
        keep = []
        for i, (slot, token) in enumerate(zip(self._active, tokens, strict=True)):
            slot.compute_seconds += share
            if self._advance(slot, token):
                keep.append(i)
        if len(keep) < len(self._active):
            self._keep_rows(keep)
        self._deliver_finished()

    def _keep_rows(self, keep: list[int]) -> None:
        self._active = [self._active[i] for i in keep]
        if not self._active:
            self._batch = None
        elif self._batch is not None:
            self._batch.select(keep)

    def _advance(self, slot: _Slot, token: int) -> bool:
        """Record a sampled token and stream it; False when the request is finished."""
        slot.token_ids.append(token)
        if token in self.engine.eos_token_ids:
            self._finish(slot, "stop")
            return False
        delta = slot.text.push(token)
        if not slot.sink.put(TokenDelta(delta, token)):
            slot.cancelled.set()
        if slot.text.stopped:
            self._finish(slot, "stop")
            return False
        if len(slot.token_ids) >= slot.budget:
            self._finish(slot, "length")
            return False
        if slot.cancelled.is_set():  # the caller left while this step ran
            self._cancelled += 1
            return False
        return True

    def _finish(self, slot: _Slot, reason: str) -> None:
        """Queue the request's last event; ``_deliver_finished`` sends it once the row has left
        the batch, so a caller that sees its final event also sees its slot freed."""
        rest = slot.text.flush()
        if rest:
            slot.sink.put(TokenDelta(rest, None))
        prompt_tokens, completion_tokens = len(slot.request.prompt_ids), len(slot.token_ids)
        self._outbox.append(
            (
                slot.sink,
                GenerationDone(
                    text=slot.text.text,
                    finish_reason=reason,
                    usage=Usage(
                        prompt_tokens=prompt_tokens,
                        completion_tokens=completion_tokens,
                        total_tokens=prompt_tokens + completion_tokens,
                    ),
                    compute_seconds=slot.compute_seconds,
                    token_ids=tuple(slot.token_ids),
                ),
            )
        )
        self._completed += 1
        service = time.perf_counter() - slot.submitted_at
        self._service_ewma = (
            service if self._service_ewma is None else 0.8 * self._service_ewma + 0.2 * service
        )

    def _deliver_finished(self) -> None:
        outbox, self._outbox = self._outbox, []
        for sink, event in outbox:
            sink.put(event)

    def _fail_active(self, error: BaseException, extra: list[_Slot]) -> None:
        for slot in [*self._active, *extra]:
            slot.sink.put(error)
        self._active = []
        self._batch = None
