"""Slow and oversized request headers, against the proxy as ``llmgateway serve`` runs it (the
runner's uvicorn options and GuardedHttpToolsProtocol): a connection that sends nothing, or
trickles its headers, is closed with 408 after server.header_timeout_seconds; headers over
server.max_header_bytes get 431; idle keep-alive connections close after keep_alive_seconds; and
other clients are served all the while."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from llmgateway.server.runner import HEADER_TIMEOUT_ENV, uvicorn_options
from tests.server.harness import MASTER_KEY, RunningServer, mock_config

HEADER_TIMEOUT = 1.0
KEEP_ALIVE = 1
MAX_HEADER = 8192
REQUEST = b"GET /health/live HTTP/1.1\r\nhost: gateway\r\n\r\n"


class GuardedServer(RunningServer):
    """RunningServer with the options the runner gives uvicorn instead of the harness's."""

    def __init__(self, config: dict[str, Any]) -> None:
        import uvicorn

        super().__init__(config)
        options = uvicorn_options(self.state.config, drain=1.0)
        self._server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", **options)
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)


@pytest.fixture(scope="module")
def server() -> Iterator[GuardedServer]:
    settings = {
        "header_timeout_seconds": HEADER_TIMEOUT,
        "keep_alive_seconds": KEEP_ALIVE,
        "max_header_bytes": MAX_HEADER,
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(HEADER_TIMEOUT_ENV, str(HEADER_TIMEOUT))
        running = GuardedServer(mock_config(**settings))
        with running:
            yield running


def until_closed(sock: socket.socket, limit: float = 10) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and how long that took."""
    started = time.monotonic()
    sock.settimeout(limit)
    received = b""
    while part := sock.recv(65536):
        received += part
    return received, time.monotonic() - started


def test_uvicorn_options_carry_the_settings(server: GuardedServer) -> None:
    options = uvicorn_options(server.state.config, drain=3.0)
    assert options["timeout_keep_alive"] == KEEP_ALIVE
    assert options["h11_max_incomplete_event_size"] == MAX_HEADER
    assert options["http"] == "llmgateway.server.http_protocol:GuardedHttpToolsProtocol"
    assert options["limit_concurrency"] is None and options["timeout_graceful_shutdown"] == 3


def test_silent_connection_is_closed_with_408(server: GuardedServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        received, waited = until_closed(sock)
    assert received.startswith(b"HTTP/1.1 408"), received
    assert HEADER_TIMEOUT * 0.8 <= waited < HEADER_TIMEOUT + 1.5


def test_trickled_headers_are_cut_off_while_others_are_served(server: GuardedServer) -> None:
    slow = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(30)]
    stop = threading.Event()

    def trickle() -> None:
        request = b"POST /v1/chat/completions HTTP/1.1\r\nhost: gateway\r\nx-pad: " + b"a" * 500
        for byte in request:
            for sock in slow:
                try:
                    sock.sendall(bytes([byte]))
                except OSError:
                    pass
            if stop.wait(0.1):
                return

    sender = threading.Thread(target=trickle)
    sender.start()
    try:
        served = []
        with httpx.Client(timeout=5) as client:
            for _ in range(5):
                started = time.monotonic()
                assert client.get(f"{server.url}/health/live").status_code == 200
                served.append(time.monotonic() - started)
                time.sleep(0.1)
        results = [until_closed(sock) for sock in slow]
    finally:
        stop.set()
        sender.join()
        for sock in slow:
            sock.close()
    assert all(received.startswith(b"HTTP/1.1 408") for received, _ in results)
    assert max(waited for _, waited in results) < HEADER_TIMEOUT + 1.5
    assert max(served) < 0.5


def test_oversized_headers_get_431(server: GuardedServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"GET /health/live HTTP/1.1\r\nhost: gateway\r\n")
        for _ in range(4):
            sock.sendall(b"x-pad: " + b"a" * (MAX_HEADER // 2) + b"\r\n")
        received, _ = until_closed(sock)
    assert received.startswith(b"HTTP/1.1 431"), received


def test_large_headers_under_the_limit_and_bodies_are_fine(server: GuardedServer) -> None:
    headers = {"authorization": f"Bearer {MASTER_KEY}", "x-pad": "a" * (MAX_HEADER // 2)}
    body = {"model": "chat", "messages": [{"role": "user", "content": "b" * 50_000}]}
    response = httpx.post(f"{server.url}/v1/chat/completions", json=body, headers=headers, timeout=10)
    assert response.status_code == 200


def test_keep_alive_serves_requests_then_closes_when_idle(server: GuardedServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        for _ in range(3):  # a slow but steady client: each request's headers arrive in time
            sock.sendall(REQUEST)
            sock.settimeout(5)
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
            time.sleep(HEADER_TIMEOUT * 0.6)
        received, waited = until_closed(sock)
    assert received == b"" and waited < KEEP_ALIVE + 1


def test_request_slower_than_header_timeout_is_fine_once_headers_are_in(server: GuardedServer) -> None:
    # The header deadline ends with the headers: a long call after them is not cut off.
    provider: Any = next(d.provider for d in server.state.gateway.deployments() if d.name == "mock-slow")

    async def slow(request: Any) -> str:
        import asyncio

        await asyncio.sleep(HEADER_TIMEOUT * 2)
        return "late but fine"

    provider.handler = slow
    body = {"model": "slow", "messages": [{"role": "user", "content": "x"}]}
    headers = {"authorization": f"Bearer {MASTER_KEY}"}
    response = httpx.post(f"{server.url}/v1/chat/completions", json=body, headers=headers, timeout=10)
    assert response.status_code == 200 and response.json()["choices"][0]["message"]["content"]
