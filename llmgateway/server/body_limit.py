"""The request body size limit: 413 as soon as a body is known to pass it (its Content-Length, or
the bytes counted as they arrive), without reading the rest."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmgateway.errors import BadRequestError

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ClientGone(Exception):
    """The client disconnected before its request body arrived."""


def too_large(limit: int) -> BadRequestError:
    return BadRequestError(
        f"request body is larger than the limit of {limit} bytes; send less, or raise server.max_body_bytes",
        status_code=413,
        code="request_too_large",
    )


def declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    declared = declared_length(scope)
    if declared is not None and declared > limit:
        raise too_large(limit)
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


class BodyLimit:
    """The same limit around an ASGI app that reads bodies itself (the admin API, the dashboard)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from llmgateway.server.errors import send_error

        declared = declared_length(scope)
        if declared is not None and declared > self.limit:
            await send_error(send, too_large(self.limit))
            return
        size = 0
        limit = self.limit

        async def counted() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit:
                    raise too_large(limit)
            return message

        try:
            await self.app(scope, counted, send)
        except BadRequestError as exc:
            if exc.status_code != 413:
                raise
            await send_error(send, exc)  # fails if the app had started answering: then it is logged
