"""A ChatStream written to the client as server-sent events, straight over ASGI: one
``data: {json}`` event per chunk, then ``data: [DONE]``. A failure after the first event goes out
as an ``error`` event (the status line has already gone); a client that leaves closes the stream
and with it the upstream call."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from llmgateway.errors import ContentPolicyError, GatewayError, PolicyCheckFailedError
from llmgateway.server.disconnect import DisconnectWatch
from llmgateway.sse import SSE_DONE
from llmgateway.types import ChatCompletionChunk

if TYPE_CHECKING:
    from starlette.types import Receive, Send

    from llmgateway.streaming import ChatStream

logger = logging.getLogger("llmgateway.server")

SSE_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


def _encode(chunk: ChatCompletionChunk) -> bytes:
    return b"data: " + chunk.__pydantic_serializer__.to_json(chunk, exclude_none=True) + b"\n\n"


async def send_stream(
    stream: ChatStream,
    headers: list[tuple[bytes, bytes]],
    receive: Receive,
    send: Send,
    scrub: Callable[[str], str] | None = None,
) -> tuple[str, GatewayError | None]:
    """Send the stream; returns its outcome (``completed``, ``client_closed``, ``failed``, or
    ``refused`` by the content policy) and the error that broke it off, if any."""
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    watch = DisconnectWatch(receive)
    outcome = "completed"
    failure: GatewayError | None = None
    try:
        try:
            async for chunk in stream:
                await send({"type": "http.response.body", "body": _encode(chunk), "more_body": True})
        except GatewayError as exc:
            withheld = isinstance(exc, (ContentPolicyError, PolicyCheckFailedError))
            outcome, failure = "refused" if withheld else "failed", exc
        watch.stop()
        if failure is None:
            await send({"type": "http.response.body", "body": SSE_DONE})
        else:
            from llmgateway.server.errors import render

            rendered = render(failure, scrub) if scrub is not None else render(failure)
            event = b"data: " + rendered[1] + b"\n\n"  # scrubbed like any error answer
            await send({"type": "http.response.body", "body": event})
    except asyncio.CancelledError:
        if not watch.absorb():
            raise
        outcome = "client_closed"
    finally:
        watch.stop()
        await stream.aclose()
    return outcome, failure
