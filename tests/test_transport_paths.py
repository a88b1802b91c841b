"""The aiohttp fast path and the httpx path behave alike: timeouts, line breaks, redirects,
event loops, and use after close. Each case runs against a raw HTTP server on localhost."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator

import httpx
import pytest

from llmgateway import Gateway, GatewayError, NotFoundError

pytestmark = pytest.mark.integration
USER = [{"role": "user", "content": "hi"}]
Writer = Callable[[asyncio.StreamWriter], Awaitable[None]]


def chunk_event(text: str, finish: str | None = None) -> bytes:
    body = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(body).encode()


async def serve(write: Writer) -> tuple[asyncio.Server, str]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            ),
            0,
        )
        await reader.readexactly(length)
        await write(writer)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"


async def stream_head(writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n")
    await writer.drain()


def gateway(base_url: str, fast: bool, timeout: float = 5.0) -> Gateway:
    deployment = {"name": "d", "provider": "openai", "settings": {"base_url": base_url, "timeout": timeout}}
    return Gateway({"http": {"fast_path": fast}, "models": {"m": {"deployments": [deployment]}}})


@pytest.fixture(params=[True, False], ids=["aiohttp-fast-path", "httpx"])
def fast(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


async def collect(gw: Gateway) -> str:
    stream = await gw.chat.completions.create(model="m", messages=USER, stream=True)
    return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])


async def test_timeout_bounds_each_read_not_the_whole_stream(fast: bool) -> None:
    async def slow_stream(writer: asyncio.StreamWriter) -> None:
        await stream_head(writer)
        for i in range(6):  # 1.2 s in all, never more than 0.2 s between reads
            writer.write(chunk_event(str(i)) + b"\n\n")
            await writer.drain()
            await asyncio.sleep(0.2)
        writer.write(chunk_event("", "stop") + b"\n\ndata: [DONE]\n\n")

    server, url = await serve(slow_stream)
    async with server, gateway(url, fast, timeout=0.6) as gw:
        assert await collect(gw) == "012345"


async def test_cr_only_and_crlf_line_breaks(fast: bool) -> None:
    async def odd_breaks(writer: asyncio.StreamWriter) -> None:
        await stream_head(writer)
        writer.write(chunk_event("a") + b"\r\r" + chunk_event("b") + b"\r\n\r\n")
        writer.write(chunk_event("", "stop") + b"\n\ndata: [DONE]\n\n")

    server, url = await serve(odd_breaks)
    async with server, gateway(url, fast) as gw:
        assert await collect(gw) == "ab"


async def test_redirects_are_not_followed_and_name_the_fix(fast: bool) -> None:
    async def redirect(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 302 Found\r\nlocation: /v2/chat/completions\r\ncontent-length: 0\r\n\r\n")

    server, url = await serve(redirect)
    async with server, gateway(url, fast) as gw:
        with pytest.raises(NotFoundError, match="redirect to /v2/chat/completions"):
            await gw.chat.completions.create(model="m", messages=USER)


def test_a_gateway_survives_a_new_event_loop_and_refuses_after_close(upstream_url_sync: str) -> None:
    for fast_path in (True, False):
        gw = gateway(upstream_url_sync, fast_path)
        for _ in range(2):  # two asyncio.run calls: two loops
            reply = asyncio.run(gw.chat.completions.create(model="m", messages=USER))
            assert "Paris" in reply.text()
        asyncio.run(gw.aclose())
        with pytest.raises(GatewayError, match="closed"):
            asyncio.run(gw.chat.completions.create(model="m", messages=USER))


@pytest.fixture
def upstream_url_sync() -> Iterator[str]:
    """The mock upstream in its own thread, so several event loops can call it."""
    import threading

    from bench.mock_upstream import serve as serve_mock

    ready: list[str] = []
    loop = asyncio.new_event_loop()

    def run() -> None:
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(serve_mock("127.0.0.1", 0))
        ready.append(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1")
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    while not ready:
        threading.Event().wait(0.01)
    yield ready[0]
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)


async def test_user_client_path_matches_for_errors() -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(401, json={"error": {"message": "bad key"}}))
    async with httpx.AsyncClient(transport=transport) as client:
        config = {
            "models": {
                "m": {
                    "deployments": [
                        {
                            "name": "wrong-key",
                            "provider": "openai",
                            "settings": {"base_url": "http://a.test/v1"},
                        },
                        {"name": "spare", "provider": "mock"},
                    ]
                }
            }
        }
        async with Gateway(config, http_client=client) as gw:
            reply = await gw.chat.completions.create(model="m", messages=USER)
    # An upstream's 401 is that deployment's misconfiguration: a sibling answers instead.
    assert reply.gateway is not None and reply.gateway.deployment == "spare"
    assert reply.gateway.attempts[0].status_code == 401
