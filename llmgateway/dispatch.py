"""The call path: route a request to a deployment, fall back on failure, stamp cost and metadata.

One Dispatcher per Gateway; it holds the routes and nothing global.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from llmgateway.accounting.estimate import estimate_usage
from llmgateway.errors import NotFoundError, StreamInterruptedError
from llmgateway.reliability.fallback import call_with_fallback
from llmgateway.routing.deployment import Deployment
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
from llmgateway.streaming import ChatStream
from llmgateway.types import (
    Attempt,
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

T = TypeVar("T", ChatCompletion, Completion, EmbeddingResponse)


def _metadata(
    model: str,
    deployment: Deployment,
    attempts: list[Attempt],
    usage: Usage | None,
    estimated: bool,
    latency_ms: float,
    ttft_ms: float | None = None,
) -> GatewayMetadata:
    return GatewayMetadata(
        model=model,
        deployment=deployment.name,
        provider=deployment.kind,
        attempts=attempts,
        latency_ms=latency_ms,
        ttft_ms=ttft_ms,
        cost=deployment.pricing.cost(usage, estimated=estimated),
    )


class Dispatcher:
    def __init__(self, routes: dict[str, ModelRoute]) -> None:
        self.routes = routes

    def route(self, model: str) -> ModelRoute:
        route = self.routes.get(model)
        if route is None:
            known = ", ".join(sorted(self.routes)) or "none"
            raise NotFoundError(
                f"model '{model}' is not configured; known models: {known}", code="model_not_found"
            )
        return route

    async def _routed(
        self,
        model: str,
        capable: Capability,
        what: str,
        call: Callable[[Deployment], Awaitable[T]],
        estimate: Callable[[T], Usage] | None = None,
    ) -> T:
        """Route one non-streaming call and stamp its metadata and cost on the response. Without
        reported usage the cost is priced on ``estimate`` (when given) and marked estimated."""
        started = time.perf_counter()
        response, deployment, attempts = await call_with_fallback(
            self.route(model).candidates(capable, what), call
        )
        usage = response.usage
        estimated = usage is None
        if usage is None and estimate is not None:
            usage = estimate(response)
        latency_ms = (time.perf_counter() - started) * 1000.0
        response.gateway = _metadata(model, deployment, attempts, usage, estimated, latency_ms)
        return response

    async def chat(self, request: ChatCompletionRequest, timeout: float | None) -> ChatCompletion:
        return await self._routed(
            request.model,
            needs_tools if request.tools else needs_chat,
            "tool calls" if request.tools else "chat completions",
            lambda d: d.provider.chat(request, timeout=timeout or d.timeout),
            lambda response: estimate_usage(request.messages, response.text()),
        )

    async def stream_chat(self, request: ChatCompletionRequest, timeout: float | None) -> ChatStream:
        route = self.route(request.model)
        started = time.perf_counter()

        async def open_stream(
            d: Deployment,
        ) -> tuple[ChatCompletionChunk, AsyncIterator[ChatCompletionChunk]]:
            stream = d.provider.stream_chat(request, timeout=timeout or d.timeout)
            try:
                first = await stream.__anext__()
            except StopAsyncIteration:
                raise StreamInterruptedError(
                    "stream ended before its first chunk", deployment=d.name
                ) from None
            except BaseException:
                closer = getattr(stream, "aclose", None)
                if closer is not None:
                    await closer()
                raise
            return first, stream

        (first, rest), deployment, attempts = await call_with_fallback(
            route.candidates(
                needs_streaming_tools if request.tools else needs_streaming,
                "streaming tool calls" if request.tools else "streaming",
            ),
            open_stream,
        )
        ttft_ms = (time.perf_counter() - started) * 1000.0

        def finish(usage: Usage, estimated: bool, latency_ms: float) -> GatewayMetadata:
            return _metadata(request.model, deployment, attempts, usage, estimated, latency_ms, ttft_ms)

        return ChatStream(
            first,
            rest,
            request=request,
            started=started,
            ttft_ms=ttft_ms,
            finish=finish,
            deployment=deployment.name,
        )

    async def completions(self, request: CompletionRequest, timeout: float | None) -> Completion:
        return await self._routed(
            request.model,
            needs_completions,
            "text completions",
            lambda d: d.provider.completions(request, timeout=timeout or d.timeout),
        )

    async def embeddings(self, request: EmbeddingRequest, timeout: float | None) -> EmbeddingResponse:
        return await self._routed(
            request.model,
            needs_embeddings,
            "embeddings",
            lambda d: d.provider.embeddings(request, timeout=timeout or d.timeout),
        )
