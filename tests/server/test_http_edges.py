"""The proxy's HTTP edges: body limit, bad JSON, unknown routes, health, metrics, call log, and a
client that leaves cancelling the upstream call."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from llmgateway.types import ChatCompletionChunk, ChatCompletionRequest, ChunkChoice, ChunkDelta
from tests.server.harness import MASTER_KEY, RunningServer

AUTH = {"authorization": f"Bearer {MASTER_KEY}"}
CHAT = {"model": "chat", "messages": [{"role": "user", "content": "a secret prompt"}]}


def post(server: RunningServer, path: str, **kwargs: Any) -> httpx.Response:
    headers = {**AUTH, **kwargs.pop("headers", {})}
    return httpx.post(f"{server.url}{path}", headers=headers, timeout=10, **kwargs)


def error_of(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/json")
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


def test_body_limit(server: RunningServer) -> None:
    limit = server.state.config.max_body_bytes
    big = b'{"model": "chat", "messages": [], "pad": "' + b"x" * limit + b'"}'
    response = post(server, "/v1/chat/completions", content=big)
    assert response.status_code == 413 and error_of(response)["code"] == "request_too_large"

    def chunks() -> Any:  # no Content-Length: counted as it arrives
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536

    response = post(server, "/v1/chat/completions", content=chunks())
    assert response.status_code == 413


def test_bad_json_and_shapes(server: RunningServer) -> None:
    response = post(server, "/v1/chat/completions", content=b"{not json")
    assert response.status_code == 400 and error_of(response)["code"] == "invalid_json"
    response = post(server, "/v1/chat/completions", content=b"[1, 2]")
    assert response.status_code == 400 and "JSON object" in error_of(response)["message"]
    response = post(server, "/v1/chat/completions", content=b"")
    assert response.status_code == 400
    response = post(server, "/v1/chat/completions", json={"model": "chat", "messages": [{"role": "x"}]})
    assert response.status_code == 400 and error_of(response)["param"].startswith("messages")
    response = post(server, "/v1/completions", json={"model": "chat", "prompt": "x", "stream": True})
    assert response.status_code == 400 and error_of(response)["param"] == "stream"


def test_unknown_route_and_method(server: RunningServer) -> None:
    response = httpx.get(f"{server.url}/v2/nothing")
    assert response.status_code == 404 and error_of(response)["type"] == "not_found_error"
    response = httpx.get(f"{server.url}/v1/chat/completions", headers=AUTH)
    assert response.status_code == 405 and error_of(response)
    response = post(server, "/v1/chat/completions", json=CHAT, headers={"authorization": "Bearer nope"})
    assert response.status_code == 401 and error_of(response)["type"] == "authentication_error"


def test_health(server: RunningServer) -> None:
    assert httpx.get(f"{server.url}/health/live").json() == {"status": "alive"}
    assert httpx.get(f"{server.url}/health/ready").status_code == 200


def test_metrics_parse(server: RunningServer) -> None:
    assert post(server, "/v1/chat/completions", json=CHAT).status_code == 200
    post(server, "/v1/chat/completions", json={**CHAT, "model": "broken"})
    text = httpx.get(f"{server.url}/metrics").text
    sample = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_]+="[^"]*",?)*\})? -?[0-9.e+-]+$')
    for line in text.splitlines():
        assert line.startswith("# ") or sample.match(line), line
    assert re.search(r'llmgateway_requests_total\{endpoint="chat",model="chat",deployment="mock-chat",'
                     r'status="200",cache="off"\} [1-9]', text)  # fmt: skip
    assert 'status="502"' in text
    assert 'llmgateway_deployment_breaker_state{deployment="mock-chat",provider="mock"} 0' in text
    assert "llmgateway_request_duration_seconds_bucket" in text


def test_call_log_has_no_secret_or_prompt(server: RunningServer, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="llmgateway.calls"):
        response = post(server, "/v1/chat/completions", json=CHAT)
        deadline = time.monotonic() + 5
        while not [r for r in caplog.records if r.name == "llmgateway.calls"] and time.monotonic() < deadline:
            time.sleep(0.01)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "llmgateway.calls"]
    assert lines, "no call log line"
    line = lines[-1]
    assert line["request_id"] == response.headers["x-llmgateway-request-id"]
    assert line["model"] == "chat" and line["deployment"] == "mock-chat" and line["status"] == 200
    assert line["key"] == "master" and line["outcome"] == "completed"
    assert line["prompt_tokens"] == 3 and line["cost"] == "0"
    raw = caplog.text
    assert MASTER_KEY not in raw and "secret prompt" not in raw


def _provider(server: RunningServer, name: str) -> Any:
    return next(d.provider for d in server.state.gateway.deployments() if d.name == name)


def _start_and_drop(server: RunningServer, body: dict[str, Any], wait_for: threading.Event) -> None:
    """Send a request on a raw socket and close it once the upstream call has started."""
    payload = json.dumps(body).encode()
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            + f"authorization: Bearer {MASTER_KEY}\r\ncontent-length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        deadline = time.monotonic() + 5
        while not wait_for.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert wait_for.is_set(), "the upstream call never started"
        time.sleep(0.1)


def test_client_disconnect_cancels_unary_call(server: RunningServer) -> None:
    started, cancelled = threading.Event(), threading.Event()
    provider = _provider(server, "mock-slow")

    async def slow(request: ChatCompletionRequest) -> str:
        started.set()
        try:
            await asyncio.sleep(20)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "too late"

    provider.handler = slow
    _start_and_drop(server, {**CHAT, "model": "slow"}, started)
    deadline = time.monotonic() + 5
    while not cancelled.is_set() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cancelled.is_set(), "the upstream call was not cancelled"
    assert server.state.metrics.in_flight == 0


def test_client_disconnect_closes_stream(server: RunningServer) -> None:
    started, closed = threading.Event(), threading.Event()
    provider = _provider(server, "mock-slowstream")

    async def endless(request: ChatCompletionRequest, *, timeout: float | None = None) -> AsyncIterator[Any]:
        def chunk(text: str) -> ChatCompletionChunk:
            delta = ChunkDelta(content=text)
            return ChatCompletionChunk(id="s", created=0, model="m", choices=[ChunkChoice(delta=delta)])

        try:
            yield chunk("first ")
            started.set()
            while True:
                await asyncio.sleep(0.5)
                yield chunk("more ")
        finally:
            closed.set()

    provider.stream_chat = endless
    _start_and_drop(server, {**CHAT, "model": "slowstream", "stream": True}, started)
    deadline = time.monotonic() + 5
    while not closed.is_set() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert closed.is_set(), "the upstream stream was not closed"
    deployment = next(d for d in server.state.gateway.deployments() if d.name == "mock-slowstream")
    deadline = time.monotonic() + 5
    while deployment.stats.in_flight and time.monotonic() < deadline:
        time.sleep(0.01)
    assert deployment.stats.in_flight == 0
