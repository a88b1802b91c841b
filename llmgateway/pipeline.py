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

from llmgateway.accounting.estimate import (
    estimate_completion_prompt_tokens,
    estimate_embedding_input_tokens,
    estimate_prompt_tokens,
)
from llmgateway.accounting.records import RequestIds
from llmgateway.admission import Admission, Admitted
from llmgateway.call_books import CallBooks
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
    from llmgateway.accounting.ledger.record import UsageRecord
    from llmgateway.accounting.ledger.writer import Ledger
    from llmgateway.cache.control import CacheControl
    from llmgateway.cache.entry import CacheEntry
    from llmgateway.cache.response_cache import CacheLookup, ResponseCache
    from llmgateway.guardrails.guard import CallGuard, Guardrails
    from llmgateway.shutdown import SigtermGuard

logger = logging.getLogger("llmgateway.shutdown")
R = TypeVar("R", ChatCompletion, Completion, EmbeddingResponse)
T = TypeVar("T")
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


def _no_cache() -> CacheControl:
    """A call that carried PII: its answer is neither looked up nor stored."""
    from llmgateway.cache.control import CacheControl

    return CacheControl(mode="skip")


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
        guardrails: Guardrails | None = None,
        *,
        guardrails_factory: Callable[[], Guardrails] | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self._admission = admission if admission is not None and admission.active else None
        self.cache = cache
        self.ledger = ledger
        self.guardrails = guardrails
        # Built on first need: a caller (a virtual key) with its own PII mode on a gateway without
        # guardrails configured.
        self._guardrails_factory = guardrails_factory
        self._plain = self._admission is None and cache is None and ledger is None and guardrails is None
        # Bookkeeping running on its own (settling over the network, releases of failed calls);
        # held so the tasks are not collected, and awaited before the stores close.
        self._background: set[asyncio.Task[Any]] = set()
        # The loop calls run on: where a stream dropped on another thread hands its books over.
        self.loop: asyncio.AbstractEventLoop | None = None
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
        if self._plain and caller.pii is None:
            return await self.dispatcher.chat(request, timeout, override)
        return await self._unary(
            "chat",
            request,
            caller,
            control,
            lambda guard: self.dispatcher.chat(request, timeout, override, guard),
            lambda: estimate_prompt_tokens(request.messages),
            request.output_token_limit(),
        )

    async def completions(
        self,
        request: CompletionRequest,
        timeout: float | None,
        override: RoutingOverride | None,
        caller: Caller,
        control: CacheControl | None,
    ) -> Completion:
        if self._plain and caller.pii is None:
            return await self.dispatcher.completions(request, timeout, override)
        return await self._unary(
            "completion",
            request,
            caller,
            control,
            lambda guard: self.dispatcher.completions(request, timeout, override, guard),
            lambda: estimate_completion_prompt_tokens(request),
            request.max_tokens,
        )

    async def embeddings(
        self,
        request: EmbeddingRequest,
        timeout: float | None,
        override: RoutingOverride | None,
        caller: Caller,
        control: CacheControl | None,
    ) -> EmbeddingResponse:
        if self._plain and caller.pii is None:
            return await self.dispatcher.embeddings(request, timeout, override)
        return await self._unary(
            "embedding",
            request,
            caller,
            control,
            lambda guard: self.dispatcher.embeddings(request, timeout, override, guard),
            lambda: estimate_embedding_input_tokens(request),
            0,
        )

    async def stream_chat(
        self,
        request: ChatCompletionRequest,
        timeout: float | None,
        override: RoutingOverride | None,
        caller: Caller,
        control: CacheControl | None,
    ) -> ChatStream:
        if self._plain and caller.pii is None:
            return await self.dispatcher.stream_chat(request, timeout, override)
        books = self._open(caller, request.model, stream=True)
        try:
            guard = await self._guard(request, caller, books.request_id)
            if guard is not None and guard.found_pii:
                control = _no_cache()
            books.admitted = await self._admit(
                caller,
                request.model,
                lambda: estimate_prompt_tokens(request.messages),
                request.output_token_limit(),
            )
            books.lookup = await self._lookup("chat", request, control, caller)
            if books.lookup is not None and books.lookup.entry is not None:
                stream = self._replay(request, books.lookup.entry, books)
            else:
                collect = books.lookup is not None and books.lookup.write
                stream = await self.dispatcher.stream_chat(
                    request, timeout, override, books, collect=collect, guard=guard
                )
            stream.request_id = books.request_id
            stream.cache = books.lookup.status if books.lookup is not None else "off"
            return stream
        except BaseException as exc:
            books.failed(exc)
            raise

    # ----------------------------------------------------------------------------- the books

    async def _guard(
        self,
        request: ChatCompletionRequest | CompletionRequest | EmbeddingRequest,
        caller: Caller,
        request_id: str,
    ) -> CallGuard | None:
        """The input checks (policy, PII): raise the refusal, or the call's guard."""
        guardrails = self.guardrails
        if guardrails is None:
            if caller.pii in (None, "off") or self._guardrails_factory is None:
                return None
            guardrails = self.guardrails = self._guardrails_factory()
        self.dispatcher.route(request.model)  # an unknown model is a 404 before anything else
        return await guardrails.begin(request, caller, request_id)

    def _open(self, caller: Caller, model: str, *, stream: bool) -> CallBooks:
        """Count a call in; it is counted out when its books close."""
        if self.guard is not None:
            self.guard.ensure()
        if self.closing:
            raise ServiceUnavailableError(
                "the gateway is shutting down and takes no new calls; retry on another replica"
            )
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
        self.in_flight += 1
        return CallBooks(self, self._ids.next(), caller, model, time.perf_counter(), stream)

    async def _admit(
        self, caller: Caller, model: str, estimate_prompt: Callable[[], int], max_output: int | None
    ) -> Admitted | None:
        """``estimate_prompt`` runs only when something is admitted (budgets or limits on)."""
        if self._admission is None:
            return None
        prompt_tokens = estimate_prompt()
        output = DEFAULT_OUTPUT_TOKENS if max_output is None else max_output

        def cost_estimate() -> tuple[Decimal, str]:
            """The most this call may cost on any of its deployments (prompt, every allowed
            output token, compute for its time limit), in their currency (one per model when
            budgets are on)."""
            route = self.dispatcher.route(model)
            estimates = [
                (d.pricing.estimate(prompt_tokens, output, d.timeout), d.pricing.currency)
                for d in route.deployments
            ]
            return max(estimates)

        admitting = self._admission.admit(caller, model, prompt_tokens + output, cost_estimate)
        if not self._admission.remote:
            return await admitting
        # Over the network, a caller cancelled mid-reservation would leave Redis holding what it
        # never learned it had: the reservation runs on its own and is given back if unwanted.
        task = self.spawn(admitting)
        assert task is not None
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(self._release_unwanted)
            raise

    def _release_unwanted(self, task: asyncio.Task[Admitted]) -> None:
        if not task.cancelled() and task.exception() is None:
            self.spawn(task.result().release())

    async def _lookup(
        self, kind: Kind, request: Any, control: CacheControl | None, caller: Caller
    ) -> CacheLookup | None:
        cache = self.cache
        if cache is None:
            return None
        scope = cache.config.scope
        partition = None
        if scope == "key" and caller.key is not None:
            partition = f"key:{caller.key}"
        elif scope == "team" and caller.team is not None:
            partition = f"team:{caller.team}"
        if control is None:
            return await cache.lookup(kind, request, partition=partition)
        return await cache.lookup(kind, request, control, partition)

    async def _unary(
        self,
        kind: Kind,
        request: ChatCompletionRequest | CompletionRequest | EmbeddingRequest,
        caller: Caller,
        control: CacheControl | None,
        run: Callable[[CallGuard | None], Awaitable[R]],
        prompt_tokens: Callable[[], int],
        max_output: int | None,
    ) -> R:
        model = request.model
        books = self._open(caller, model, stream=False)
        try:
            guard = await self._guard(request, caller, books.request_id)
            if guard is not None and guard.found_pii:
                control = _no_cache()
            books.admitted = await self._admit(caller, model, prompt_tokens, max_output)
            books.lookup = await self._lookup(kind, request, control, caller)
            entry = books.lookup.entry if books.lookup is not None else None
            if entry is not None:
                hit = cast(R, entry.response())
                latency_ms = (time.perf_counter() - books.started) * 1000.0
                hit.gateway = _hit_metadata(model, entry, latency_ms, books.request_id)
                await books.answered(hit.gateway, hit.usage)
                return hit
            response = await run(guard)
            assert response.gateway is not None
            if guard is not None and not isinstance(response, EmbeddingResponse):
                refusal = await guard.check_answer(response)
                if refusal is not None:  # paid for, booked, not cached, not returned
                    await books.answered(response.gateway, response.usage, outcome="refused")
                    raise refusal
            await books.answered(response.gateway, response.usage, response=response)
            return response
        except BaseException as exc:
            books.failed(exc)  # nothing, if the call was answered before the exception
            raise

    def _replay(self, request: ChatCompletionRequest, entry: CacheEntry, books: CallBooks) -> ChatStream:
        """A cache hit asked for as a stream: the stored chunks, replayed."""
        chunks = entry.chunks()
        started = books.started
        ttft_ms = (time.perf_counter() - started) * 1000.0

        def finish(usage: Usage, estimated: bool, total_ms: float, outcome: str) -> GatewayMetadata:
            metadata = _hit_metadata(request.model, entry, total_ms, books.request_id)
            metadata.ttft_ms = ttft_ms
            return metadata

        return ChatStream(
            chunks,
            _no_more(),
            request=request,
            started=started,
            ttft_ms=ttft_ms,
            finish=finish,
            deployment=entry.deployment,
            finisher=books,
        )

    async def write(self, record: UsageRecord) -> None:
        """Into the ledger; a caller cancelled while the ledger holds it back (backpressure,
        strict mode) still leaves the record queued (ids make a second copy harmless)."""
        assert self.ledger is not None
        try:
            await self.ledger.record(record)
        except asyncio.CancelledError:
            self.ledger.record_nowait(record)
            raise

    async def settle(self, admitted: Admitted, cost: Decimal, tokens: int) -> list[str]:
        """Correct the call's reservations to what it used. Over the network, the settling runs
        as its own tasks, so a caller cancelled meanwhile does not leave a hold behind."""
        if not admitted.remote:
            return await admitted.settle(cost, tokens)
        if admitted.reservations:  # token-limit corrections: nobody waits for them
            self.spawn(admitted.settle_limits(tokens))
        if admitted.hold is None:
            return []
        task = self.spawn(admitted.hold.settle(cost))  # the answer waits: it reports soft warnings
        if task is None:
            return []
        return await asyncio.shield(task)

    def spawn(self, work: Coroutine[Any, Any, T]) -> asyncio.Task[T] | None:
        """Run bookkeeping on its own (held here, awaited by ``settled``)."""
        try:
            task = asyncio.get_running_loop().create_task(work)
        except RuntimeError:  # no loop here: the caller hands work over with call_soon_threadsafe
            work.close()
            return None
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

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
