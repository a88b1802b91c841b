"""uvicorn's httptools protocol with a deadline and a size bound on each request's headers: a
connection that opens and sends nothing, or trickles its headers (slowloris), is closed with 408
after ``server.header_timeout_seconds``; headers over ``server.max_header_bytes`` get 431.
uvicorn loads it by name (``runner.PROTOCOL``) in each worker.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from llmgateway.server.runner import DEFAULT_HEADER_TIMEOUT, HEADER_TIMEOUT_ENV

_LINGER_SECONDS = 2.0

_TOO_SLOW = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 38\r\nconnection: close\r\n\r\nrequest headers did not arrive in time\n"
)
_TOO_BIG = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 34\r\nconnection: close\r\n\r\nrequest headers are far too large\n"
)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline and a size bound on each request's headers.

    The deadline starts when the connection opens and again at the first byte of each later
    request; between requests uvicorn's own keep-alive timeout closes idle connections. The size
    counts the bytes received while headers are incomplete (``h11_max_incomplete_event_size``,
    which uvicorn's h11 protocol honours too)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timeout = float(os.environ.get(HEADER_TIMEOUT_ENV) or DEFAULT_HEADER_TIMEOUT)
        self._max_header_bytes: int | None = self.config.h11_max_incomplete_event_size
        self._header_deadline: asyncio.TimerHandle | None = None
        self._headers_done = False
        self._header_bytes = 0
        self._refused = False

    def _arm_header_deadline(self) -> None:
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(self._header_timeout, self._headers_too_slow)

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _refuse(self, answer: bytes) -> None:
        self._disarm_header_deadline()
        if self._refused or self.transport.is_closing():
            return
        self._refused = True
        self.transport.write(answer)
        # Half-close, then drop what the client still sends for a moment: closing with its bytes
        # unread would reset the connection, and the client could lose the answer.
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(_LINGER_SECONDS, self.transport.close)

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        self._refuse(_TOO_SLOW)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # answered and closing: the rest is dropped
        if not self._headers_done:
            self._header_bytes += len(data)
        super().data_received(data)
        limit = self._max_header_bytes
        if not self._headers_done and limit is not None and self._header_bytes > limit:
            self._refuse(_TOO_BIG)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_header_deadline()

    def on_headers_complete(self) -> None:
        self._headers_done = True
        self._header_bytes = 0
        self._disarm_header_deadline()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._headers_done = False  # the next bytes are the next request's headers
