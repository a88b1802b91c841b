"""No request makes the gateway call a URL that is not in its config.

A configured OpenAI-compatible upstream and an "outside" server both run on 127.0.0.1; requests
name the outside URL in every field and header a client controls (URL-ish body fields, image
parts, tools, the model name, x-llmgateway-* headers, Host, X-Forwarded-*), and one deployment's
upstream answers every call with a redirect to the outside. The outside server must see nothing:
unknown fields travel to the configured upstream as data, never as an address, and redirects are
never followed (by the gateway's aiohttp fast path, nor by an httpx client set to follow them)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from llmgateway.transport import AiohttpSender, HttpxSender
from tests.server.harness import MASTER_KEY, RunningServer

AUTH = {"authorization": f"Bearer {MASTER_KEY}"}


class Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.hits: list[tuple[str, str, dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        self.url = f"http://127.0.0.1:{self.server_address[1]}"

    def record(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        with self.lock:
            self.hits.append((handler.command, handler.path, headers, body))


class OutsideHandler(BaseHTTPRequestHandler):
    """Counts every request of any method, and answers like an upstream would."""

    server: Recorder

    def _any(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.server.record(self, self.rfile.read(length))
        body = b'{"id": "outside", "object": "chat.completion", "created": 0, "model": "x", "choices": []}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _any

    def log_message(self, *args: Any) -> None:
        return None


def upstream_handler(outside: str) -> type[BaseHTTPRequestHandler]:
    class UpstreamHandler(BaseHTTPRequestHandler):
        """OpenAI-compatible answers; under /redirect/ a 302 (or 307) to the outside server."""

        server: Recorder
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            self.server.record(self, body)
            if self.path.startswith("/redirect/"):
                status = 307 if "307" in self.path else 302
                self.send_response(status)
                self.send_header("location", f"{outside}/stolen{self.path}")
                self.send_header("content-length", "0")
                self.end_headers()
                return
            request = json.loads(body)
            if request.get("stream"):
                self._stream()
            elif self.path.endswith("/embeddings"):
                self._json({"object": "list", "model": "m", "data": [{"index": 0, "embedding": [0.5]}]})
            elif self.path.endswith("/completions") and "chat" not in self.path:
                self._json({"id": "c", "created": 0, "model": "m", "choices": [{"text": "ok"}]})
            else:
                message = {"role": "assistant", "content": "ok"}
                choice = {"index": 0, "message": message, "finish_reason": "stop"}
                self._json({"id": "c", "created": 0, "model": "m", "choices": [choice]})

        def _json(self, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _stream(self) -> None:
            choice = {"index": 0, "delta": {"content": "ok"}, "finish_reason": "stop"}
            chunk = {"id": "s", "created": 0, "model": "m", "choices": [choice]}
            data = f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode()
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            return None

    return UpstreamHandler


def serving(server: Recorder) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


@pytest.fixture(scope="module")
def outside() -> Iterator[Recorder]:
    server = Recorder(OutsideHandler)
    serving(server)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def upstream(outside: Recorder) -> Iterator[Recorder]:
    server = Recorder(upstream_handler(outside.url))
    serving(server)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def gateway(upstream: Recorder) -> Iterator[RunningServer]:
    def deployment(name: str, path: str) -> dict[str, Any]:
        settings = {"base_url": f"{upstream.url}{path}", "api_key": "sk-upstream-secret"}
        return {"routing": {"retry": {"max_rounds": 1}}, "deployments": [
            {"name": name, "provider": "openai", "settings": settings}]}  # fmt: skip

    config = {
        "models": {
            "chat": deployment("up", "/v1"),
            "moved": deployment("up-302", "/redirect/302/v1"),
            "moved307": deployment("up-307", "/redirect/307/v1"),
        },
        "server": {"master_key": MASTER_KEY},
    }
    with RunningServer(config) as running:
        yield running


def client_controlled(outside: str) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Bodies and headers that name the outside server wherever a client can put a URL."""
    url = f"{outside}/stolen"
    image = {"type": "image_url", "image_url": {"url": url}}
    fields = {
        "base_url": url,
        "api_base": url,
        "baseURL": url,
        "url": url,
        "endpoint": url,
        "endpoint_url": url,
        "api_endpoint": url,
        "api_key": "sk-attacker",
        "extra_body": {"base_url": url, "api_base": url},
        "extra_headers": {"host": outside.removeprefix("http://")},
        "tools": [
            {"type": "function", "function": {"name": "f", "description": url, "parameters": {"$ref": url}}}
        ],
        "response_format": {"type": "json_schema", "json_schema": {"$ref": url}},
        "user": url,
        "metadata": {"callback_url": url, "webhook": url},
    }
    messages = [{"role": "user", "content": [{"type": "text", "text": url}, image]}]
    bodies: list[dict[str, Any]] = [
        {"model": "chat", "messages": messages, **fields},
        {"model": "chat", "messages": messages, "stream": True, **fields},
        {"model": url, "messages": messages},
        {"model": f"{outside.removeprefix('http://')}/chat", "messages": messages},
        {"model": "chat", "messages": messages, "routing": {"base_url": url}},
        {"model": "moved", "messages": messages},
        {"model": "moved", "messages": messages, "stream": True},
        {"model": "moved307", "messages": messages},
        {"model": "moved307", "messages": messages, "stream": True},
    ]
    host = outside.removeprefix("http://")
    headers = [
        {},
        {"host": host},
        {"x-forwarded-host": host, "x-forwarded-proto": "http", "x-forwarded-for": "127.0.0.1"},
        {"forwarded": f"host={host};proto=http", "x-original-url": url, "x-rewrite-url": url},
        {"x-llmgateway-base-url": url, "x-llmgateway-api-base": url, "x-llmgateway-deployment": url},
        {"x-llmgateway-policy": url, "x-llmgateway-cache": url, "x-llmgateway-upstream": url},
    ]
    return bodies, headers


def test_no_request_reaches_a_url_outside_the_config(
    gateway: RunningServer, upstream: Recorder, outside: Recorder
) -> None:
    bodies, header_sets = client_controlled(outside.url)
    statuses: dict[int, int] = {}
    with httpx.Client(base_url=gateway.url, timeout=15) as client:
        for headers in header_sets:
            for body in bodies:
                response = client.post("/v1/chat/completions", json=body, headers={**AUTH, **headers})
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                assert response.status_code < 500 or response.status_code == 502, response.text
            for path, body in (
                ("/v1/completions", {"model": "chat", "prompt": outside.url, "base_url": outside.url}),
                ("/v1/embeddings", {"model": "chat", "input": outside.url, "api_base": outside.url}),
                ("/v1/completions", {"model": "moved", "prompt": "x"}),
                ("/v1/embeddings", {"model": "moved307", "input": "x"}),
            ):
                response = client.post(path, json=body, headers={**AUTH, **headers})
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            client.get(f"/v1/models/{outside.url}/x", headers={**AUTH, **headers})
    assert outside.hits == [], outside.hits
    assert statuses.get(200) and statuses.get(502), statuses  # served, and redirects refused
    # The configured upstream got the calls, with the client's fields as data in the body, its
    # own key, and none of the client's routing headers.
    redirected = [h for h in upstream.hits if h[1].startswith("/redirect/")]
    assert len(redirected) >= 4 * len(header_sets)
    for _, _, headers, _ in upstream.hits:
        assert headers["authorization"] == "Bearer sk-upstream-secret"
        assert headers["host"] == upstream.url.removeprefix("http://")
        assert not any(name.startswith(("x-forwarded", "x-llmgateway", "forwarded")) for name in headers)
    forwarded = [json.loads(b) for _, path, _, b in upstream.hits if path == "/v1/chat/completions"]
    assert any(b.get("api_base") == f"{outside.url}/stolen" for b in forwarded)


async def test_senders_never_follow_redirects(upstream: Recorder, outside: Recorder) -> None:
    import aiohttp

    url = f"{upstream.url}/redirect/307/v1/chat/completions"
    body = b'{"model": "m", "messages": []}'
    before = len(outside.hits)
    async with httpx.AsyncClient(follow_redirects=True) as following:
        answer = await HttpxSender(following).post(url, body, {"content-type": "application/json"}, 5)
        assert answer.status == 307
        async with HttpxSender(following).stream(url, body, {}, 5) as response:
            assert response.status == 307
    async with aiohttp.ClientSession() as session:
        answer = await AiohttpSender(session).post(url, body, {}, 5)
        assert answer.status == 307
        async with AiohttpSender(session).stream(url, body, {}, 5) as response:
            assert response.status == 307
    assert len(outside.hits) == before
