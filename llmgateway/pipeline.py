"""The gateway's books around each routed call.

```
admission (budgets, key and model rate limits) -> cache lookup (a hit returns at cost 0)
  -> dispatcher (route, deployment limits, retries, fallback) -> settle the reservations
  -> usage-ledger record -> cache store
```
With none of these configured the pipeline hands calls straight to the dispatcher.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

from llmgateway.accounting.estimate import estimate_prompt_tokens, estimate_text_tokens
from llmgateway.accounting.records import RequestIds, answered_record, failed_record
from llmgateway.admission import Admission, Admitted
from llmgateway.caller import Caller
from llmgateway.dispatch import DEFAULT_OUTPUT_TOKENS, Dispatcher
from llmgateway.errors import ServiceUnavailableError
from llmgateway.routing.settings import RoutingOverride
from llmgateway.streaming import ChatStream
from llmgateway.types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Completion,
    CompletionRequest,
    Cost,
    EmbeddingRequest,
    EmbeddingResponse,
    GatewayMetadata,
    Usage,
)

if TYPE_CHECKING:
    from llmgateway.accounting.ledger.writer import Ledger
    from llmgateway.cache.control import CacheControl
    from llmgateway.cache.entry import CacheEntry
    from llmgateway.cache.response_cache import CacheLookup, ResponseCache
    from llmgateway.shutdown import SigtermGuard

logger = logging.getLogger("llmgateway.shutdown")
R = TypeVar("R", ChatCompletion, Completion, EmbeddingResponse)
Kind = Literal["chat", "completion", "embedding"]


def _hit_metadata(model: str, entry: CacheEntry, latency_ms: float, request_id: str) -> GatewayMetadata:
    """A hit: served from the cache at no cost, saying what the original call cost."""
    cost = Cost(currency=entry.cost.currency, saved=entry.cost.total)
    return GatewayMetadata(
        model=model,
        deployment=entry.deployment,
        provider=entry.provider,
        latency_ms=latency_ms,
        ttft_ms=latency_ms,
        cache="hit",
        cost=cost,
        request_id=request_id,
    )


async def _no_more() -> AsyncIterator[ChatCompletionChunk]:
    return
    yield  # an async generator that ends at once


class Pipeline:
    def __init__(
        self,
        dispatcher: Dispatcher,
        admission: Admission | None = None,
        cache: ResponseCache | None = None,
        ledger: Ledger | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self._admission = admission if admission is not None and admission.active else None
        if self._admission is not None:
            self._admission.settle_in_background(self.spawn)
        self._cache = cache
        self._ledger = ledger
        self._plain = self._admission is None and cache is None and ledger is None
        # Settlements of streams closed early run on their own; held so they are not collected.
        self._background: set[asyncio.Task[None]] = set()
        self.in_flight = 0
        self.closing = False
        self._ids = RequestIds()
        self._idle: asyncio.Event | None = None  # set when draining and the last call is over
        # Set by the gateway when it should take SIGTERM on the loop it is used from.
        self.guard: SigtermGuard | None = None

    # ----------------------------------------------------------------------------- entry points

    async def chat(
        self,
        request: ChatCompletionRequest,
        timeout: float | None,
        override: RoutingOverride | None,
        caller: Caller,
        control: CacheControl | None,
    ) -> ChatCompletion:
        if self._plain:
            return await self.dispatcher.chat(request, timeout, override)
        tokens = estimate_prompt_tokens(request.messages) if self._admission is not None else 0
        return await self._unary(
            "chat",
            request,
            request.model,
            caller,
            control,
            lambda: self.dispatcher.chat(request, timeout, override),
            tokens,
            request.output_token_limit(),
            ChatCompletion,
        )

    async def completions(
        self,
        request: CompletionRequest,
        timeout: float | None,
        override: RoutingOverride | None,
        caller: Caller,
        control: CacheControl | None,
    ) -> Completion:
        if self._plain:
            return await self.dispatcher.completions(request, timeout, override)
        tokens = 0
        if self._admission is not None:
            prompts = [request.prompt] if isinstance(request.prompt, str) else request.prompt
            tokens = sum(estimate_text_tokens(p) for p in prompts)
        return await self._unary(
            "completion",
            request,
            request.model,
            caller,
            control,
            lambda: self.dispatcher.completions(request, timeout, override),
            tokens,
            request.max_tokens,
            Completion,
        )

    async def embeddings(
        self,
        request: EmbeddingRequest,
        timeout: float | None,
        override: RoutingOverride | None,
        caller: Caller,
        control: CacheControl | None,
    ) -> EmbeddingResponse:
        if self._plain:
            return await self.dispatcher.embeddings(request, timeout, override)
        tokens = 0
        if self._admission is not None:
            inputs = request.input if isinstance(request.input, list) else [request.input]
            tokens = sum(estimate_text_tokens(i) if isinstance(i, str) else 1 for i in inputs)
        return await self._unary(
            "embedding",
            request,
            request.model,
            caller,
            control,
            lambda: self.dispatcher.embeddings(request, timeout, override),
            tokens,
            0,
            EmbeddingResponse,
        )

    async def stream_chat(
        self,
        request: ChatCompletionRequest,
        timeout: float | None,
        override: RoutingOverride | None,
        caller: Caller,
        control: CacheControl | None,
    ) -> ChatStream:
        if self._plain:
            return await self.dispatcher.stream_chat(request, timeout, override)
        self._enter()
        books: _StreamBooks | None = None
        try:
            started = time.perf_counter()
            request_id = self._ids.next()
            tokens = estimate_prompt_tokens(request.messages) if self._admission is not None else 0
            admitted = await self._admit(
                request_id, caller, request.model, tokens, request.output_token_limit(), started, True
            )
            lookup = await self._lookup("chat", request, control)
            books = _StreamBooks(self, request_id, caller, request.model, admitted, lookup, started)
            if lookup is not None and lookup.entry is not None:
                return self._replay(request, lookup.entry, started, books)
            try:
                return await self.dispatcher.stream_chat(
                    request,
                    timeout,
                    override,
                    books,
                    collect=lookup is not None and lookup.write,
                )
            except BaseException as exc:
                books.failed(exc)
                raise
        except BaseException:
            if books is None or not books.settled:
                self.leave()
            raise

    # ----------------------------------------------------------------------------- the books

    def _enter(self) -> None:
        if self.guard is not None:
            self.guard.ensure()
        if self.closing:
            raise ServiceUnavailableError(
                "the gateway is shutting down and takes no new calls; retry on another replica"
            )
        self.in_flight += 1

    async def _admit(
        self,
        request_id: str,
        caller: Caller,
        model: str,
        prompt_tokens: int,
        max_output: int | None,
        started: float,
        stream: bool,
    ) -> Admitted | None:
        if self._admission is None:
            return None
        output = DEFAULT_OUTPUT_TOKENS if max_output is None else max_output

        def cost_estimate() -> tuple[Decimal, str]:
            """The most this call may cost on any of its deployments (prompt, every allowed
            output token, compute for its time limit), in their currency."""
            route = self.dispatcher.route(model)
            estimates = [
                (d.pricing.estimate(prompt_tokens, output, d.timeout), d.pricing.currency)
                for d in route.deployments
            ]
            return max(estimates)

        try:
            return await self._admission.admit(caller, model, prompt_tokens + output, cost_estimate)
        except Exception as exc:
            self._record_failure(request_id, caller, model, exc, started, stream=stream)
            raise

    async def _lookup(self, kind: Kind, request: Any, control: CacheControl | None) -> CacheLookup | None:
        if self._cache is None:
            return None
        if control is None:
            return await self._cache.lookup(kind, request)
        return await self._cache.lookup(kind, request, control)

    async def _unary(
        self,
        kind: Kind,
        request: Any,
        model: str,
        caller: Caller,
        control: CacheControl | None,
        run: Callable[[], Awaitable[R]],
        prompt_tokens: int,
        max_output: int | None,
        response_type: type[R],
    ) -> R:
        self._enter()
        try:
            started = time.perf_counter()
            request_id = self._ids.next()
            admitted = await self._admit(request_id, caller, model, prompt_tokens, max_output, started, False)
            lookup = await self._lookup(kind, request, control)
            if lookup is not None and lookup.entry is not None:
                hit = cast(R, lookup.entry.response())
                latency_ms = (time.perf_counter() - started) * 1000.0
                metadata = _hit_metadata(model, lookup.entry, latency_ms, request_id)
                hit.gateway = metadata
                if admitted is not None:
                    await admitted.release()
                if self._ledger is not None:
                    await self._ledger.record(answered_record(request_id, caller, metadata, hit.usage))
                return hit
            try:
                response = await run()
            except BaseException as exc:
                self._settle_failed(admitted)
                self._record_failure(
                    request_id, caller, model, exc, started, cache=lookup.status if lookup else "off"
                )
                raise
            assert response.gateway is not None
            metadata = response.gateway
            metadata.request_id = request_id
            if lookup is not None:
                metadata.cache = lookup.status
            if admitted is not None:
                used = response.usage.total_tokens if response.usage else prompt_tokens
                warnings = await admitted.settle(metadata.cost.total, used)
                if warnings:
                    metadata.warnings = warnings
            if self._ledger is not None:
                await self._ledger.record(answered_record(request_id, caller, metadata, response.usage))
            if lookup is not None and lookup.write:
                assert self._cache is not None
                await self._cache.store(
                    lookup,
                    response,
                    deployment=metadata.deployment,
                    provider=metadata.provider,
                    cost=metadata.cost,
                )
            return response
        finally:
            self.leave()

    def _replay(
        self, request: ChatCompletionRequest, entry: CacheEntry, started: float, books: _StreamBooks
    ) -> ChatStream:
        """A cache hit asked for as a stream: the stored chunks, replayed."""
        chunks = entry.chunks()
        latency_ms = (time.perf_counter() - started) * 1000.0

        def finish(usage: Usage, estimated: bool, total_ms: float, outcome: str) -> GatewayMetadata:
            metadata = _hit_metadata(request.model, entry, total_ms, books.request_id)
            metadata.ttft_ms = latency_ms
            return metadata

        return ChatStream(
            chunks,
            _no_more(),
            request=request,
            started=started,
            ttft_ms=latency_ms,
            finish=finish,
            deployment=entry.deployment,
            finisher=books,
        )

    def _record_failure(
        self,
        request_id: str,
        caller: Caller,
        model: str,
        error: BaseException,
        started: float,
        *,
        cache: str = "off",
        stream: bool = False,
    ) -> None:
        if self._ledger is not None:
            latency_ms = (time.perf_counter() - started) * 1000.0
            record = failed_record(request_id, caller, model, error, latency_ms, cache=cache, stream=stream)
            self._ledger.record_nowait(record)

    def _settle_failed(self, admitted: Admitted | None) -> None:
        """A call that failed holds nothing: its reservations are released, in the background
        (it may have been cancelled, and awaiting in a cancelled task is not safe)."""
        if admitted is not None:
            self.spawn(admitted.release())

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        try:
            task = asyncio.get_running_loop().create_task(work)
        except RuntimeError:  # no loop (a stream dropped at interpreter exit): nothing to run on
            work.close()
            return
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def settled(self) -> None:
        """Wait for the bookkeeping still running in the background (before the stores close)."""
        current = [t for t in self._background if t.get_loop() is asyncio.get_running_loop()]
        if current:
            await asyncio.wait(current)

    def leave(self) -> None:
        """One call (or stream) is over."""
        self.in_flight -= 1
        if self.in_flight == 0 and self._idle is not None:
            self._idle.set()

    async def drain(self, seconds: float) -> None:
        """Take no new calls; wait (up to ``seconds``) for the calls in flight to finish, then for
        their bookkeeping."""
        self.closing = True
        deadline = time.monotonic() + seconds
        if self.in_flight > 0:
            self._idle = asyncio.Event()
            try:
                await asyncio.wait_for(self._idle.wait(), seconds)
            except asyncio.TimeoutError:
                logger.warning("shutdown: %d calls still in flight after %.1f s", self.in_flight, seconds)
        if self._background:
            await asyncio.wait(list(self._background), timeout=max(0.0, deadline - time.monotonic()))


class _StreamBooks:
    """The pipeline's side of one stream: settles reservations, writes the ledger record and
    stores the answer in the cache, once, when the stream is over."""

    def __init__(
        self,
        pipeline: Pipeline,
        request_id: str,
        caller: Caller,
        model: str,
        admitted: Admitted | None,
        lookup: CacheLookup | None,
        started: float,
    ) -> None:
        self._pipeline = pipeline
        self._model = model
        self.request_id = request_id
        self._caller = caller
        self._admitted = admitted
        self._lookup = lookup
        self._started = started
        self.settled = False

    def _done(self) -> bool:
        if self.settled:
            return True
        self.settled = True
        self._pipeline.leave()
        return False

    async def finish(
        self,
        metadata: GatewayMetadata,
        usage: Usage,
        outcome: str,
        chunks: list[ChatCompletionChunk] | None,
    ) -> None:
        if self._done():
            return
        await self._settle(metadata, usage, outcome, chunks)

    def finish_soon(self, metadata: GatewayMetadata, usage: Usage, outcome: str) -> None:
        if self._done():
            return
        pipeline = self._pipeline
        if pipeline._ledger is not None:  # the record first, synchronously: it must not be lost
            metadata.request_id = self.request_id
            self._set_cache_status(metadata)
            record = answered_record(
                self.request_id, self._caller, metadata, usage, outcome=outcome, stream=True
            )
            pipeline._ledger.record_nowait(record)
        if self._admitted is not None:
            pipeline.spawn(self._settle_admitted(metadata, usage))

    async def _settle_admitted(self, metadata: GatewayMetadata, usage: Usage) -> list[str]:
        """Correct the budget and token charges to what the stream used (nothing, for a hit)."""
        if self._admitted is None:
            return []
        if metadata.cache == "hit":
            return await self._admitted.settle(Decimal(0), 0)
        return await self._admitted.settle(metadata.cost.total, usage.total_tokens)

    def _set_cache_status(self, metadata: GatewayMetadata) -> None:
        if self._lookup is not None and metadata.cache != "hit":
            metadata.cache = self._lookup.status

    async def _settle(
        self,
        metadata: GatewayMetadata,
        usage: Usage,
        outcome: str,
        chunks: list[ChatCompletionChunk] | None,
    ) -> None:
        pipeline = self._pipeline
        metadata.request_id = self.request_id
        self._set_cache_status(metadata)
        hit = metadata.cache == "hit"
        warnings = await self._settle_admitted(metadata, usage)
        if warnings:
            metadata.warnings = warnings
        if pipeline._ledger is not None:
            record = answered_record(
                self.request_id, self._caller, metadata, usage, outcome=outcome, stream=True
            )
            await pipeline._ledger.record(record)
        lookup = self._lookup
        if not hit and chunks and lookup is not None and lookup.write:
            assert pipeline._cache is not None
            await pipeline._cache.store(
                lookup,
                None,
                deployment=metadata.deployment,
                provider=metadata.provider,
                cost=metadata.cost,
                chunks=chunks,
            )

    def failed(self, error: BaseException) -> None:
        """The stream never started (every deployment failed, or the caller gave up)."""
        if self._done():
            return
        pipeline = self._pipeline
        pipeline._settle_failed(self._admitted)
        cache = self._lookup.status if self._lookup is not None else "off"
        pipeline._record_failure(
            self.request_id, self._caller, self._model, error, self._started, cache=cache, stream=True
        )
