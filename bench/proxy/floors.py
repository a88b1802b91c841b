"""The two floors: bare pass-through ASGI apps with no logic, the least any Python proxy on one
uvicorn worker can cost. Each reads the POST body, posts it to the upstream's chat route through
one shared client and answers with the upstream's status and body; no parsing, no auth, no books.

- ``aiohttp``: one ``aiohttp.ClientSession``
- ``httpx``: one ``httpx.AsyncClient`` on httpx-aiohttp's ``AiohttpTransport``

Run one (what the benchmark does, in its own process):
``python -m bench.proxy.floors --kind aiohttp --upstream http://127.0.0.1:9100/v1 --port 9200``.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Protocol

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

KINDS = ("aiohttp", "httpx")
_JSON = [(b"content-type", b"application/json")]
_POST_HEADERS = {"content-type": "application/json"}


class _Forward(Protocol):
    async def __call__(self, body: bytes) -> tuple[int, bytes]: ...


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


class PassThrough:
    """An ASGI app that forwards every HTTP request's body to ``url`` and relays the answer. The
    client is opened in the lifespan (it needs the running loop), or on first use without one."""

    def __init__(self, kind: str, url: str) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown floor {kind!r}; use one of {', '.join(KINDS)}")
        self.kind = kind
        self.url = url
        self._forward: _Forward | None = None
        self._close: Callable[[], Awaitable[None]] | None = None

    async def open(self) -> None:
        if self._forward is not None:
            return
        if self.kind == "aiohttp":
            import aiohttp

            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256))

            async def forward_aiohttp(body: bytes) -> tuple[int, bytes]:
                async with session.post(self.url, data=body, headers=_POST_HEADERS) as response:
                    return response.status, await response.read()

            self._forward, self._close = forward_aiohttp, session.close
        else:
            import httpx
            from httpx_aiohttp import AiohttpTransport

            client = httpx.AsyncClient(transport=AiohttpTransport(), timeout=None)

            async def forward_httpx(body: bytes) -> tuple[int, bytes]:
                response = await client.post(self.url, content=body, headers=_POST_HEADERS)
                return response.status_code, response.content

            self._forward, self._close = forward_httpx, client.aclose

    async def close(self) -> None:
        if self._close is not None:
            await self._close()
        self._forward = self._close = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = await _read_body(receive)
        if self._forward is None:
            await self.open()
        assert self._forward is not None
        status, payload = await self._forward(body)
        await send({"type": "http.response.start", "status": status, "headers": _JSON})
        await send({"type": "http.response.body", "body": payload})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.open()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A bare pass-through floor on one uvicorn worker")
    parser.add_argument("--kind", choices=KINDS, required=True)
    parser.add_argument("--upstream", required=True, help="the upstream's base URL, ending in /v1")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)

    import uvicorn

    app = PassThrough(args.kind, args.upstream.rstrip("/") + "/chat/completions")
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        workers=1,
        access_log=False,
        log_level="warning",
        lifespan="on",
    )


if __name__ == "__main__":
    main()
