"""The gateway's HTTP layer: httpx as the public client type, aiohttp underneath by default.

Users may hand the gateway their own ``httpx.AsyncClient`` (with ``MockTransport``, respx, custom
auth, proxies...); every request then goes through that client untouched. When the gateway builds
the client itself, it owns both ends: the httpx client sits on an aiohttp transport, and providers
post straight to the same aiohttp session, skipping httpx's per-request model building. That fast
path is only taken for the gateway-owned client, which carries no user hooks, so no behaviour is
lost; measured in ``bench/sdk_overhead.py``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from llmgateway.errors import APIConnectionError, APITimeoutError, GatewayError

if TYPE_CHECKING:
    import aiohttp
    import httpx

DEFAULT_MAX_CONNECTIONS = 256
# SSE events with logprobs can be long; aiohttp's default line limit is 64 KiB.
READ_BUFFER_BYTES = 2**20
# Longest SSE line accepted on the aiohttp path before the stream is treated as broken.
MAX_LINE_BYTES = 8 * 2**20
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


def _where(url: str) -> str:
    """The address as errors show it: no userinfo, no query (either may hold a credential, e.g.
    Azure Functions' ``?code=``)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _describe(exc: BaseException, url: str) -> str:
    """What went wrong; the exception's own text loses the URL's query and userinfo too."""
    text = str(exc)
    if text:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        for secretive in (url, parts.query, parts.netloc.rpartition("@")[0]):
            if secretive:
                text = text.replace(secretive, "[REDACTED]" if secretive != url else _where(url))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes


class StreamResponse(Protocol):
    status: int
    headers: Mapping[str, str]

    def lines(self) -> AsyncIterator[bytes]: ...

    def chunks(self) -> AsyncIterator[bytes]:
        """The body's bytes as they arrive (for binary framings such as AWS event streams)."""
        ...

    async def read(self) -> bytes: ...


class HttpSender(Protocol):
    """The two calls providers make: a JSON POST, and a streamed POST."""

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: float | None
    ) -> HttpResponse: ...

    def stream(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: float | None
    ) -> Any: ...  # an async context manager yielding a StreamResponse


# ---------------------------------------------------------------------------------------------
# httpx: any client a user passes in
# ---------------------------------------------------------------------------------------------


class _HttpxStream:
    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.status = response.status_code
        self.headers: Mapping[str, str] = response.headers

    async def lines(self) -> AsyncIterator[bytes]:
        import httpx

        try:
            async for line in self._response.aiter_lines():
                yield line.encode()
        except httpx.TimeoutException as exc:
            raise APITimeoutError(f"stream timed out: {exc}") from exc
        except httpx.TransportError as exc:
            raise APIConnectionError(f"stream broke off: {_describe(exc, str(self._response.url))}") from exc

    async def chunks(self) -> AsyncIterator[bytes]:
        import httpx

        try:
            async for data in self._response.aiter_bytes():
                yield data
        except httpx.TimeoutException as exc:
            raise APITimeoutError(f"stream timed out: {exc}") from exc
        except httpx.TransportError as exc:
            raise APIConnectionError(f"stream broke off: {_describe(exc, str(self._response.url))}") from exc

    async def read(self) -> bytes:
        return await self._response.aread()


class HttpxSender:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: float | None
    ) -> HttpResponse:
        import httpx

        # Never follow a redirect, even on a client set to: the gateway only calls URLs in its
        # config, and a 3xx is the upstream's error to report, not a new address to try.
        kwargs: dict[str, Any] = {"follow_redirects": False}
        if timeout is not None:
            kwargs["timeout"] = timeout
        try:
            response = await self.client.post(url, content=body, headers=headers, **kwargs)
        except httpx.TimeoutException as exc:
            raise APITimeoutError(f"request to {_where(url)} timed out: {_describe(exc, url)}") from exc
        except httpx.TransportError as exc:
            raise APIConnectionError(f"could not reach {_where(url)}: {_describe(exc, url)}") from exc
        return HttpResponse(response.status_code, response.headers, response.content)

    @asynccontextmanager
    async def stream(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: float | None
    ) -> AsyncIterator[_HttpxStream]:
        import httpx

        kwargs: dict[str, Any] = {"follow_redirects": False}
        if timeout is not None:
            kwargs["timeout"] = timeout
        try:
            async with self.client.stream("POST", url, content=body, headers=headers, **kwargs) as response:
                yield _HttpxStream(response)
        except httpx.TimeoutException as exc:
            raise APITimeoutError(f"request to {_where(url)} timed out: {_describe(exc, url)}") from exc
        except httpx.TransportError as exc:
            raise APIConnectionError(f"could not reach {_where(url)}: {_describe(exc, url)}") from exc


# ---------------------------------------------------------------------------------------------
# aiohttp: the gateway-owned fast path
# ---------------------------------------------------------------------------------------------


class _AiohttpStream:
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status = response.status
        self.headers: Mapping[str, str] = response.headers

    async def lines(self) -> AsyncIterator[bytes]:
        """Lines split on CR, LF or CRLF, as the SSE spec (and httpx) allow."""
        import aiohttp

        pending = b""
        try:
            async for data in self._response.content.iter_any():
                pending += data
                # A CR at the very end may be the first half of a CRLF: wait for the next read.
                cut = len(pending) - 1 if pending.endswith(b"\r") else len(pending)
                parts = _LINE_BREAK.split(pending[:cut])
                pending = parts.pop() + pending[cut:]
                if len(pending) > MAX_LINE_BYTES:
                    raise APIConnectionError(f"stream sent a line longer than {MAX_LINE_BYTES} bytes")
                for line in parts:
                    yield line
        except asyncio.TimeoutError as exc:
            raise APITimeoutError("stream timed out") from exc
        except aiohttp.ClientError as exc:
            raise APIConnectionError(f"stream broke off: {_describe(exc, str(self._response.url))}") from exc
        pending = pending.rstrip(b"\r")
        if pending:
            yield pending

    async def chunks(self) -> AsyncIterator[bytes]:
        import aiohttp

        try:
            async for data in self._response.content.iter_any():
                yield data
        except asyncio.TimeoutError as exc:
            raise APITimeoutError("stream timed out") from exc
        except aiohttp.ClientError as exc:
            raise APIConnectionError(f"stream broke off: {_describe(exc, str(self._response.url))}") from exc

    async def read(self) -> bytes:
        return await self._response.read()


class AiohttpSender:
    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session
        self._timeouts: dict[float | None, aiohttp.ClientTimeout] = {}

    def _timeout(self, seconds: float | None) -> aiohttp.ClientTimeout:
        cached = self._timeouts.get(seconds)
        if cached is None:
            import aiohttp

            # The same meaning as httpx's timeout: a bound on connecting and on each read, not on
            # the whole exchange (a long, healthy stream must not be cut off).
            cached = self._timeouts[seconds] = aiohttp.ClientTimeout(
                total=None, connect=seconds, sock_connect=seconds, sock_read=seconds
            )
        return cached

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: float | None
    ) -> HttpResponse:
        import aiohttp

        try:
            async with self.session.post(
                url, data=body, headers=headers, timeout=self._timeout(timeout), allow_redirects=False
            ) as response:
                return HttpResponse(response.status, response.headers, await response.read())
        except asyncio.TimeoutError as exc:
            raise APITimeoutError(f"request to {_where(url)} got no data for {timeout}s") from exc
        except aiohttp.ClientError as exc:
            raise APIConnectionError(f"could not reach {_where(url)}: {_describe(exc, url)}") from exc

    @asynccontextmanager
    async def stream(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: float | None
    ) -> AsyncIterator[_AiohttpStream]:
        import aiohttp

        try:
            async with self.session.post(
                url, data=body, headers=headers, timeout=self._timeout(timeout), allow_redirects=False
            ) as response:
                yield _AiohttpStream(response)
        except asyncio.TimeoutError as exc:
            raise APITimeoutError(f"request to {_where(url)} got no data for {timeout}s") from exc
        except aiohttp.ClientError as exc:
            raise APIConnectionError(f"could not reach {_where(url)}: {_describe(exc, url)}") from exc


# ---------------------------------------------------------------------------------------------
# The pool a Gateway owns
# ---------------------------------------------------------------------------------------------


class HttpPool:
    """Hands providers a sender: through the user's httpx client if one was given, else through
    the gateway-owned aiohttp session (shared with the httpx client it exposes)."""

    def __init__(
        self,
        client: httpx.AsyncClient | None = None,
        *,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        fast_path: bool = True,
    ) -> None:
        self._user_client = client
        self._max_connections = max_connections
        self._fast_path = fast_path
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._owned_client: httpx.AsyncClient | None = None
        self._senders: dict[int, HttpSender] = {}

    def _aiohttp_session(self) -> aiohttp.ClientSession:
        """The pool's aiohttp session, created inside the running loop as aiohttp requires. A
        session belongs to one loop: a gateway used again under a new loop (a second
        ``asyncio.run``) gets a fresh session instead of one bound to a dead loop."""
        if self._closed:
            raise GatewayError("this gateway is closed; create a new one")
        loop = asyncio.get_running_loop()
        session = self._session
        if session is None or session.closed or self._session_loop is not loop:
            import aiohttp

            if session is not None and not session.closed:
                session.detach()  # its connections died with their loop; nothing left to close
            connector = aiohttp.TCPConnector(limit=self._max_connections, ttl_dns_cache=300)
            session = self._session = aiohttp.ClientSession(
                connector=connector, read_bufsize=READ_BUFFER_BYTES, auto_decompress=True
            )
            self._session_loop = loop
            self._owned_client = None  # its transport captured the old session
        return session

    @property
    def client(self) -> httpx.AsyncClient:
        """The httpx client requests go through (the user's, or the gateway-owned one)."""
        if self._user_client is not None:
            return self._user_client
        if self._session_loop is not None and _running_loop() not in (None, self._session_loop):
            self._aiohttp_session()  # a new loop: rebuild the session and this client with it
        if self._owned_client is None:
            import httpx
            from httpx_aiohttp import AiohttpTransport

            transport = AiohttpTransport(client=self._aiohttp_session)
            self._owned_client = httpx.AsyncClient(transport=transport, timeout=None, follow_redirects=False)
        return self._owned_client

    def sender(self, client: httpx.AsyncClient | None = None) -> HttpSender:
        """The sender for a deployment: its own httpx client if it has one, else the pool's."""
        chosen = client or self._user_client
        key = id(chosen)
        sender = self._senders.get(key)
        if sender is None:
            if chosen is None:
                sender = _LazyAiohttpSender(self) if self._fast_path else _OwnedHttpxSender(self)
            else:
                sender = HttpxSender(chosen)
            self._senders[key] = sender
        return sender

    async def aclose(self) -> None:
        self._closed = True
        if self._owned_client is not None:
            await self._owned_client.aclose()
            self._owned_client = None
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
        self._senders.clear()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class _OwnedHttpxSender:
    """Posts through the pool's own httpx client as it is now (rebuilt under a new loop)."""

    def __init__(self, pool: HttpPool) -> None:
        self._pool = pool

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: float | None
    ) -> HttpResponse:
        return await HttpxSender(self._pool.client).post(url, body, headers, timeout)

    def stream(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float | None) -> Any:
        return HttpxSender(self._pool.client).stream(url, body, headers, timeout)


class _LazyAiohttpSender:
    """Binds to the pool's aiohttp session at first call (the session needs a running loop)."""

    def __init__(self, pool: HttpPool) -> None:
        self._pool = pool
        self._sender: AiohttpSender | None = None

    def _current(self) -> AiohttpSender:
        session = self._pool._aiohttp_session()
        if self._sender is None or self._sender.session is not session:
            self._sender = AiohttpSender(session)
        return self._sender

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: float | None
    ) -> HttpResponse:
        return await self._current().post(url, body, headers, timeout)

    def stream(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float | None) -> Any:
        return self._current().stream(url, body, headers, timeout)
