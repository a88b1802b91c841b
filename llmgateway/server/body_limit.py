"""Request body limits: 413 as soon as a body is known to pass the size limit (its Content-Length,
or the bytes counted as they arrive) without reading the rest; 408 (and the connection closed)
when a client has not sent its whole body within the body timeout; 400 for JSON nested deeper
than the depth limit (the /v1 routes check that themselves, ``BodyLimit`` does it for the rest)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from llmgateway.errors import BadRequestError
from llmgateway.server.json_limits import check_depth

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Sent with a 408: the rest of a stalled body may still arrive, so the connection cannot be reused.
CLOSE = (b"connection", b"close")


class ClientGone(Exception):
    """The client disconnected before its request body arrived."""


class BodyTimeout(BadRequestError):
    """The client did not send its whole body in time (408; its connection is closed)."""

    status_code = 408


def too_large(limit: int) -> BadRequestError:
    return BadRequestError(
        f"request body is larger than the limit of {limit} bytes; send less, or raise server.max_body_bytes",
        status_code=413,
        code="request_too_large",
    )


def too_slow(seconds: float) -> BodyTimeout:
    return BodyTimeout(
        f"the request body did not arrive within {seconds:g} seconds; send it at once, or raise "
        "server.body_timeout_seconds",
        code="request_timeout",
    )


def declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def read_body(scope: Scope, receive: Receive, limit: int, timeout: float | None = None) -> bytes:
    """The whole body, under the size limit and (with ``timeout``) within that many seconds."""
    declared = declared_length(scope)
    if declared is not None and declared > limit:
        raise too_large(limit)
    if timeout is None:
        return await _read(receive, limit)
    # A timer that cancels this task, rather than asyncio.timeout (3.11+) or wait_for (a task per
    # read): the usual body has already arrived and costs one scheduled callback.
    task = asyncio.current_task()
    assert task is not None
    fired = False

    def expire() -> None:
        nonlocal fired
        fired = True
        task.cancel()

    timer = asyncio.get_running_loop().call_later(timeout, expire)
    try:
        return await _read(receive, limit)
    except asyncio.CancelledError:
        if not fired:
            raise
        uncancel = getattr(task, "uncancel", None)  # 3.11+: this cancel was ours, not the caller's
        if uncancel is not None:
            uncancel()
        raise too_slow(timeout) from None
    finally:
        timer.cancel()


async def _read(receive: Receive, limit: int) -> bytes:
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientGone()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):  # the usual case: one message
        if len(body) > limit:
            raise too_large(limit)
        return body
    parts = [body]
    size = len(body)
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        part = message.get("body", b"")
        size += len(part)
        if size > limit:
            raise too_large(limit)
        parts.append(part)
        if not message.get("more_body", False):
            return b"".join(parts)


# What an early answer drains of the body first, at most: closing a connection whose client is
# still sending resets it, and the client may lose the answer (nginx's "lingering close").
DRAIN_SECONDS = 1.0
DRAIN_BYTES = 1 << 20


def expects_continue(scope: Scope) -> bool:
    return any(name == b"expect" and value.lower() == b"100-continue" for name, value in scope["headers"])


async def drain(
    scope: Scope, receive: Receive, seconds: float = DRAIN_SECONDS, limit: int = DRAIN_BYTES
) -> None:
    """Read and drop what is left of a request body, for at most ``seconds`` and ``limit`` bytes.
    Not for a client that waits for ``100 Continue``: reading would invite the upload (uvicorn
    sends the 100 on the first read), and such a client sends nothing until then anyway."""
    import asyncio

    if expects_continue(scope):
        return

    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    taken = 0
    while taken <= limit:
        left = deadline - loop.time()
        if left <= 0:
            return
        try:
            message = await asyncio.wait_for(receive(), left)
        except asyncio.TimeoutError:
            return
        if message["type"] != "http.request":
            return
        taken += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


async def send_refusal(send: Send, error: BadRequestError) -> None:
    """The error answer, sent before the body was read whole: it also closes the connection
    (uvicorn honours the header), since the rest of the body may still trickle in."""
    from llmgateway.server.errors import render, send_json

    status, body, headers = render(error)
    if isinstance(error, BodyTimeout) or error.status_code == 413:
        headers.append(CLOSE)
    await send_json(send, status, body, headers)


def _is_form(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bool(value.startswith((b"application/x-www-form-urlencoded", b"multipart/")))
    return False


class BodyLimit:
    """The same limits around an ASGI app that reads bodies itself (the admin API, the dashboard).
    A body is read whole (it is small: these are forms and admin calls), checked, and handed to
    the app as one message; later receives (disconnect watching) go to the client as usual."""

    def __init__(
        self, app: ASGIApp, limit: int, timeout: float | None = None, max_depth: int | None = None
    ) -> None:
        self.app = app
        self.limit = limit
        self.timeout = timeout
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        try:
            body = await read_body(scope, receive, self.limit, self.timeout)
            if self.max_depth is not None and not _is_form(scope):
                check_depth(body, self.max_depth)
        except ClientGone:
            return
        except BadRequestError as exc:
            if exc.status_code == 413:  # refused unread: drain a little before closing
                await drain(scope, receive)
            await send_refusal(send, exc)
            return
        pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

        async def replay() -> Message:
            return pending.pop() if pending else await receive()

        await self.app(scope, replay, send)
