"""OpenAI-compatible routes: /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/models."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

from llmgateway.errors import GatewayError
from llmgateway.sse import SSE_DONE, format_sse
from llmgateway.types import (
    ChatCompletionRequest,
    CompletionRequest,
    EmbeddingRequest,
    WireModel,
)
from local_backend.http_errors import error_response, model_json, parse, read_json

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from local_backend.service import LocalService

Handler = Callable[["Request"], Awaitable["Response"]]
logger = logging.getLogger(__name__)


async def sse_body(chunks: AsyncIterator[WireModel]) -> AsyncIterator[bytes]:
    """SSE events for each chunk, then ``[DONE]``. An error after the first event is sent as an
    ``error`` event (the status line has already gone out), then the stream ends."""
    try:
        async for chunk in chunks:
            yield format_sse(chunk.model_dump_json(exclude_none=True))
    except GatewayError as exc:
        import json

        yield format_sse(json.dumps(exc.to_openai_body()))
        return
    finally:
        closer = getattr(chunks, "aclose", None)
        if closer is not None:
            await closer()
    yield SSE_DONE


async def start_stream(chunks: AsyncIterator[WireModel]) -> Response:
    """Pull the first chunk before answering, so errors that happen at once (queue full, prompt
    too long) still get their proper HTTP status instead of a 200 with an error event."""
    from starlette.responses import StreamingResponse

    try:
        first = await chunks.__anext__()
    except StopAsyncIteration:
        first = None

    async def body() -> AsyncIterator[bytes]:
        if first is not None:
            yield format_sse(first.model_dump_json(exclude_none=True))
        async for part in sse_body(chunks):
            yield part

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )


def guarded(handler: Handler) -> Handler:
    """Every GatewayError becomes its OpenAI-style error answer; a bug still answers in that shape
    (500, logged) rather than as a bare server error page."""

    async def wrapper(request: Request) -> Response:
        try:
            return await handler(request)
        except GatewayError as exc:
            return error_response(exc)
        except Exception as exc:
            logger.exception("unhandled error on %s", request.url.path)
            return error_response(GatewayError(f"internal error: {type(exc).__name__}"))

    return wrapper


def openai_routes(get: Callable[[], LocalService]) -> list[Route]:
    from starlette.routing import Route

    async def chat(request: Request) -> Response:
        body: ChatCompletionRequest = parse(ChatCompletionRequest, await read_json(request))
        if body.stream:
            return await start_stream(get().stream_chat(body))
        return model_json(await get().chat(body))

    async def completions(request: Request) -> Response:
        body: CompletionRequest = parse(CompletionRequest, await read_json(request))
        if body.stream:
            return await start_stream(get().stream_completions(body))
        return model_json(await get().completions(body))

    async def embeddings(request: Request) -> Response:
        body: EmbeddingRequest = parse(EmbeddingRequest, await read_json(request))
        return model_json(await get().embeddings(body))

    async def models(request: Request) -> Response:
        return model_json(get().models())

    routes: list[tuple[str, Handler, list[str]]] = [
        ("/v1/chat/completions", chat, ["POST"]),
        ("/v1/completions", completions, ["POST"]),
        ("/v1/embeddings", embeddings, ["POST"]),
        ("/v1/models", models, ["GET"]),
    ]
    return [Route(path, guarded(handler), methods=methods) for path, handler, methods in routes]
