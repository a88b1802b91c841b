"""The call path: rank a model's deployments, try them (with retries, fallback and hedging),
record what happened in each deployment's live stats, and stamp cost and metadata on the answer.

One Dispatcher per Gateway; it holds the routes and the router and nothing global.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from llmgateway.accounting.estimate import (
    estimate_completion_prompt_tokens,
    estimate_embedding_input_tokens,
    estimate_prompt_tokens,
    estimate_usage,
)
from llmgateway.errors import NotFoundError, StreamInterruptedError
from llmgateway.reliability.attempts import AttemptLog, HedgePlan, run_round
from llmgateway.reliability.charges import Tickets, settle_tries, settles_remotely
from llmgateway.reliability.retry import with_retries
from llmgateway.routed import LimitSettling, Routed
from llmgateway.routing.deployment import Deployment
from llmgateway.routing.health import check_forever
from llmgateway.routing.route import (
    Capability,
    ModelRoute,
    needs_chat,
    needs_completions,
    needs_embeddings,
    needs_streaming,
    needs_streaming_tools,
    needs_tools,
)
from llmgateway.routing.router import Decision, Router
from llmgateway.routing.settings import RoutingConfig, RoutingOverride
from llmgateway.routing.shared_breakers import SharedBreakers
from llmgateway.streaming import ChatStream, StreamFinisher, close_iterator
from llmgateway.types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Completion,
    CompletionRequest,
    EmbeddingRequest,
    EmbeddingResponse,
    GatewayMetadata,
    Usage,
)

if TYPE_CHECKING:
    from llmgateway.guardrails.guard import CallGuard

T = TypeVar("T")
R = TypeVar("R", ChatCompletion, Completion, EmbeddingResponse)
StreamHead = tuple[list[ChatCompletionChunk], AsyncIterator[ChatCompletionChunk]]
# Output tokens a call without max_tokens is charged in advance against token-rate limits
# (corrected to the real count when it ends).
DEFAULT_OUTPUT_TOKENS = 1024


def hedge_plan(config: RoutingConfig, siblings: list[Deployment]) -> HedgePlan | None:
    """When to start a copy of a slow try: after the fixed delay if configured, else after the
    deployment's own p95 latency (capped at four medians), else (not measured yet) the best such
    delay among its siblings, else the initial delay."""
    hedging = config.hedging
    if not hedging.enabled:
        return None
    floor = hedging.min_delay_ms / 1000.0
    fixed = hedging.delay_ms / 1000.0 if hedging.delay_ms is not None else None
    initial = hedging.initial_delay_ms / 1000.0

    def delay(deployment: Deployment) -> float | None:
        seconds = fixed if fixed is not None else deployment.stats.hedge_delay()
        if seconds is None:
            known = [p for p in (d.stats.hedge_delay() for d in siblings) if p is not None]
            seconds = min(known) if known else initial
        return max(floor, seconds)

    return HedgePlan(delay, hedging.max_hedges)


async def _open_stream(
    deployment: Deployment, request: ChatCompletionRequest, timeout: float | None, guard: CallGuard | None
) -> StreamHead:
    """Start a stream and read up to its first token. Chunks before it (the role announcement)
    are held: until a token has reached the caller, a failing stream may still fall back."""
    if guard is None:
        stream = deployment.provider.stream_chat(request, timeout=timeout or deployment.timeout)
    else:
        stream = guard.stream_chat(deployment, request, timeout or deployment.timeout)
    head: list[ChatCompletionChunk] = []
    try:
        while True:
            try:
                chunk = await stream.__anext__()
            except StopAsyncIteration:
                if head:
                    return head, stream
                raise StreamInterruptedError(
                    "stream ended before its first token", deployment=deployment.name
                ) from None
            head.append(chunk)
            if chunk.usage is not None or any(
                c.delta.content or c.delta.tool_calls or c.finish_reason for c in chunk.choices
            ):
                return head, stream
    except BaseException:
        await close_iterator(stream)
        raise


def _worst_pass(deployments: list[Deployment], timeout: float | None) -> float | None:
    """The longest one pass over these deployments can take when each try honours its timeout;
    None when some try has no bound."""
    total = 0.0
    for d in deployments:
        bound = timeout or d.timeout or getattr(d.provider, "default_timeout", None)
        if bound is None:
            return None
        total += bound
    return total


def _raise_last(log: AttemptLog) -> None:
    error = log.round_errors[-1]
    error.attempts = log.attempts
    raise error


async def _close_stream(head: StreamHead) -> None:
    await close_iterator(head[1])


class Dispatcher:
    def __init__(self, routes: dict[str, ModelRoute], router: Router | None = None) -> None:
        self.routes = routes
        self.router = router or Router()
        self._hedging = {name: hedge_plan(route.routing, route.deployments) for name, route in routes.items()}
        self._checked = [r for r in routes.values() if r.routing.health_check.interval_seconds is not None]
        self._health_tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[None]] = set()
        # Breaker openings shared with other replicas through Redis (``cluster:`` in the config).
        self.shared_breakers: SharedBreakers | None = None

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _ensure_health_checks(self) -> None:
        """Active health checks run while the gateway is used: started by the first call (they
        need a running loop), restarted under a new loop, stopped by ``aclose``."""
        loop = asyncio.get_running_loop()
        if (
            self._health_tasks
            and self._health_tasks[0].get_loop() is loop
            and not self._health_tasks[0].done()
        ):
            return
        self._health_tasks = [
            loop.create_task(check_forever(r.model, r.deployments, r.routing.health_check))
            for r in self._checked
        ]

    async def aclose(self) -> None:
        if self.shared_breakers is not None:
            await self.shared_breakers.aclose()
        current = [t for t in self._background if t.get_loop() is asyncio.get_running_loop()]
        if current:  # corrections still on their way to the limit store
            await asyncio.wait(current)
        tasks, self._health_tasks = self._health_tasks, []
        for task in tasks:
            task.cancel()
        current = [t for t in tasks if t.get_loop() is asyncio.get_running_loop()]
        if current:
            await asyncio.wait(current)

    def route(self, model: str) -> ModelRoute:
        route = self.routes.get(model)
        if route is None:
            known = ", ".join(sorted(self.routes)) or "none"
            raise NotFoundError(
                f"model '{model}' is not configured; known models: {known}", code="model_not_found"
            )
        return route

    async def _route(
        self,
        model: str,
        capable: Capability,
        what: str,
        call: Callable[[Deployment], Awaitable[T]],
        *,
        timeout: float | None = None,
        prompt_tokens: int,
        max_output: int | None,
        override: RoutingOverride | None,
        discard: Callable[[T], Awaitable[None]] | None = None,
        guard: CallGuard | None = None,
    ) -> tuple[T, Routed]:
        route = self.route(model)
        if guard is not None and guard.local_only:  # PII in block mode: only exempt deployments
            route = route.only(guard.allows)
            if not route.candidates_for(capable):
                await guard.refuse_unserved(what)
        if self._checked:
            self._ensure_health_checks()
        if self.shared_breakers is not None:
            self.shared_breakers.ensure()
        config = override.apply(route.routing) if override is not None else route.routing
        hedging = hedge_plan(config, route.deployments) if override is not None else self._hedging[model]
        log = AttemptLog(prompt_tokens + (max_output or DEFAULT_OUTPUT_TOKENS))
        decisions: list[Decision] = []
        tickets: Tickets | None = None
        if route.clocked:
            tickets = Tickets()
            call = tickets.wrap(call, streams=discard is not None)

        async def run_pass(number: int) -> tuple[T, Deployment]:
            decision = self.router.decide(route, config, capable, what, prompt_tokens, max_output)
            decisions.append(decision)
            ranked = decision.ranked if number == 1 else log.next_pass(decision.ranked)
            if not ranked:  # every deployment failed in a way another pass cannot fix
                _raise_last(log)
            return await run_round(ranked, call, log, hedging, discard)

        worst = _worst_pass(route.deployments, timeout)
        try:
            (result, deployment), rounds = await with_retries(
                run_pass, config.retry, log, self.router.rng, worst
            )
        except BaseException:
            if tickets is not None:
                tickets.seal(None)
            if log.reservations:  # nothing was generated: every try's charge goes back
                self._spawn(settle_tries(log, None, 0))
            raise
        if tickets is not None:
            tickets.seal(deployment)
        return result, Routed(deployment, decisions[-1], log, rounds, prompt_tokens, tickets)

    async def _unary(
        self,
        model: str,
        capable: Capability,
        what: str,
        call: Callable[[Deployment], Awaitable[R]],
        prompt_tokens: int,
        max_output: int | None,
        override: RoutingOverride | None,
        estimate: Callable[[R], Usage] | None = None,
        timeout: float | None = None,
        guard: CallGuard | None = None,
    ) -> R:
        """Route one non-streaming call; price it on reported usage, or on ``estimate`` (marked)."""
        started = time.perf_counter()
        response, routed = await self._route(
            model,
            capable,
            what,
            call,
            timeout=timeout,
            prompt_tokens=prompt_tokens,
            max_output=max_output,
            override=override,
            guard=guard,
        )
        latency = time.perf_counter() - started
        usage = response.usage
        estimated = usage is None
        if usage is None and estimate is not None:
            usage = estimate(response)
        # The deployment's own latency: its try, not the failed tries and backoff before it.
        routed.deployment.stats.finished(
            routed.winner_seconds, failed=False, output_tokens=usage.completion_tokens if usage else None
        )
        response.gateway = routed.metadata(model, usage, estimated, latency * 1000.0)
        if routed.log.reservations:
            if settles_remotely(routed.log):  # a round trip: not on the answer's path
                self._spawn(routed.settle_limits(usage))
            else:
                await routed.settle_limits(usage)
        return response

    async def chat(
        self,
        request: ChatCompletionRequest,
        timeout: float | None,
        override: RoutingOverride | None = None,
        guard: CallGuard | None = None,
    ) -> ChatCompletion:
        call: Callable[[Deployment], Awaitable[ChatCompletion]] = (
            (lambda d: d.provider.chat(request, timeout=timeout or d.timeout))
            if guard is None
            else (lambda d: guard.chat(d, request, timeout or d.timeout))
        )
        return await self._unary(
            request.model,
            needs_tools if request.tools else needs_chat,
            "tool calls" if request.tools else "chat completions",
            call,
            estimate_prompt_tokens(request.messages),
            request.output_token_limit(),
            override,
            lambda response: estimate_usage(request.messages, response.text()),
            timeout,
            guard,
        )

    async def stream_chat(
        self,
        request: ChatCompletionRequest,
        timeout: float | None,
        override: RoutingOverride | None = None,
        finisher: StreamFinisher | None = None,
        collect: bool = False,
        guard: CallGuard | None = None,
    ) -> ChatStream:
        started = time.perf_counter()
        (head, rest), routed = await self._route(
            request.model,
            needs_streaming_tools if request.tools else needs_streaming,
            "streaming tool calls" if request.tools else "streaming",
            lambda d: _open_stream(d, request, timeout, guard),
            timeout=timeout,
            prompt_tokens=estimate_prompt_tokens(request.messages),
            max_output=request.output_token_limit(),
            override=override,
            discard=_close_stream,
            guard=guard,
        )
        ttft = time.perf_counter() - started
        deployment = routed.deployment
        own_ttft = routed.winner_seconds
        own_started = time.perf_counter() - own_ttft

        def finish(usage: Usage, estimated: bool, latency_ms: float, outcome: str) -> GatewayMetadata:
            elapsed = time.perf_counter() - own_started
            if outcome in ("closed", "refused"):  # stopped by the caller or our policy: no verdict
                deployment.stats.abandoned()
            else:
                failed = outcome == "failed"
                deployment.stats.finished(
                    elapsed, failed=failed, ttft=own_ttft, output_tokens=usage.completion_tokens
                )
                if failed:  # it answered its first token, then broke: that counts against it too
                    deployment.breaker.on_result(failed=True, latency=elapsed, now=time.monotonic())
            return routed.metadata(request.model, usage, estimated, latency_ms, ttft * 1000.0)

        return ChatStream(
            head,
            rest,
            request=request,
            started=started,
            ttft_ms=ttft * 1000.0,
            finish=finish,
            deployment=deployment.name,
            finisher=LimitSettling(routed, finisher, self._spawn) if routed.log.reservations else finisher,
            collect=collect,
            screen=guard.screen if guard is not None and guard.screens else None,
        )

    async def completions(
        self,
        request: CompletionRequest,
        timeout: float | None,
        override: RoutingOverride | None = None,
        guard: CallGuard | None = None,
    ) -> Completion:
        call: Callable[[Deployment], Awaitable[Completion]] = (
            (lambda d: d.provider.completions(request, timeout=timeout or d.timeout))
            if guard is None
            else (lambda d: guard.completions(d, request, timeout or d.timeout))
        )
        return await self._unary(
            request.model,
            needs_completions,
            "text completions",
            call,
            estimate_completion_prompt_tokens(request),
            request.max_tokens,
            override,
            timeout=timeout,
            guard=guard,
        )

    async def embeddings(
        self,
        request: EmbeddingRequest,
        timeout: float | None,
        override: RoutingOverride | None = None,
        guard: CallGuard | None = None,
    ) -> EmbeddingResponse:
        call: Callable[[Deployment], Awaitable[EmbeddingResponse]] = (
            (lambda d: d.provider.embeddings(request, timeout=timeout or d.timeout))
            if guard is None
            else (lambda d: guard.embeddings(d, request, timeout or d.timeout))
        )
        return await self._unary(
            request.model,
            needs_embeddings,
            "embeddings",
            call,
            estimate_embedding_input_tokens(request),
            0,
            override,
            timeout=timeout,
            guard=guard,
        )
