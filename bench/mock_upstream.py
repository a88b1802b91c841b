"""A fast mock OpenAI-compatible upstream: raw asyncio HTTP/1.1 with keep-alive, canned answers.

It must never be the bottleneck of a client benchmark, so it parses only what it needs (request
line, Content-Length, Connection) and answers from pre-encoded bytes. Routes:
``POST /v1/chat/completions`` (JSON, or SSE when the body asks ``"stream": true``),
``POST /v1/completions``, ``POST /v1/embeddings``, ``GET /v1/models``, and ``GET /ping`` /
``GET /health`` (200 ``{}``, so it can stand in for a local-backend worker); anything else is 404.

Run: ``python -m bench.mock_upstream --port 9100 [--latency-ms 0] [--chunks 8]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass

_REASONS = {200: b"OK", 404: b"Not Found", 400: b"Bad Request"}


@dataclass(frozen=True)
class MockAnswers:
    chat: bytes
    completion: bytes
    embedding: bytes
    models: bytes
    stream_events: tuple[bytes, ...]


def build_answers(text: str = "Paris is the capital of France.", chunks: int = 8) -> MockAnswers:
    created = int(time.time())
    usage = {"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20}
    chat = {
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "created": created,
        "model": "mock-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": usage,
    }
    completion = {
        "id": "cmpl-mock",
        "object": "text_completion",
        "created": created,
        "model": "mock-model",
        "choices": [{"index": 0, "text": text, "finish_reason": "stop"}],
        "usage": usage,
    }
    embedding = {
        "object": "list",
        "model": "mock-embed",
        "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2, 0.3, 0.4]}],
        "usage": {"prompt_tokens": 4, "total_tokens": 4},
    }
    models = {
        "object": "list",
        "data": [{"id": "mock-model", "object": "model", "created": 0, "owned_by": "mock"}],
    }
    words = text.split(" ")
    per_chunk = max(1, len(words) // max(chunks, 1))
    pieces = [" ".join(words[i : i + per_chunk]) for i in range(0, len(words), per_chunk)]
    pieces = [p + (" " if i < len(pieces) - 1 else "") for i, p in enumerate(pieces)]
    base = {
        "id": "chatcmpl-mock",
        "object": "chat.completion.chunk",
        "created": created,
        "model": "mock-model",
    }
    events = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}]
    events += [{**base, "choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces]
    events += [{**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}]
    events += [{**base, "choices": [], "usage": usage}]
    encoded = (*(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events), b"data: [DONE]\n\n")
    return MockAnswers(
        chat=json.dumps(chat).encode(),
        completion=json.dumps(completion).encode(),
        embedding=json.dumps(embedding).encode(),
        models=json.dumps(models).encode(),
        stream_events=encoded,
    )


def _response(status: int, body: bytes, content_type: bytes = b"application/json") -> bytes:
    return (
        b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n\r\n"
        % (status, _REASONS.get(status, b"OK"), content_type, len(body))
        + body
    )


class MockUpstreamProtocol(asyncio.Protocol):
    def __init__(self, answers: MockAnswers, latency: float) -> None:
        self.answers = answers
        self.latency = latency
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.pending = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not an asyncio.Transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end]
            length = 0
            lower = head.lower()
            index = lower.find(b"content-length:")
            if index >= 0:
                line_end = lower.find(b"\r\n", index)
                length = int(lower[index + 15 : line_end if line_end > 0 else None].strip())
            total = head_end + 4 + length
            if len(self.buffer) < total:
                return
            body = self.buffer[head_end + 4 : total]
            self.buffer = self.buffer[total:]
            request_line = head[: head.find(b"\r\n")] if b"\r\n" in head else head
            close = b"connection: close" in lower
            self.respond(request_line, body, close)

    def respond(self, request_line: bytes, body: bytes, close: bool) -> None:
        method, _, rest = request_line.partition(b" ")
        path = rest.partition(b" ")[0].partition(b"?")[0]
        if self.latency > 0:
            asyncio.get_running_loop().call_later(self.latency, self.write_answer, method, path, body, close)
        else:
            self.write_answer(method, path, body, close)

    def write_answer(self, method: bytes, path: bytes, body: bytes, close: bool) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        answers = self.answers
        if method == b"POST" and path == b"/v1/chat/completions":
            if b'"stream":true' in body or b'"stream": true' in body:
                head = (
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                    b"transfer-encoding: chunked\r\n\r\n"
                )
                out = [head]
                for event in answers.stream_events:
                    out.append(b"%x\r\n%s\r\n" % (len(event), event))
                out.append(b"0\r\n\r\n")
                transport.write(b"".join(out))
            else:
                transport.write(_response(200, answers.chat))
        elif method == b"POST" and path == b"/v1/completions":
            transport.write(_response(200, answers.completion))
        elif method == b"POST" and path == b"/v1/embeddings":
            transport.write(_response(200, answers.embedding))
        elif method == b"GET" and path == b"/v1/models":
            transport.write(_response(200, answers.models))
        elif method == b"GET" and path in (b"/ping", b"/health"):
            transport.write(_response(200, b"{}"))
        else:
            transport.write(_response(404, b'{"error": {"message": "no such route", "type": "not_found"}}'))
        if close:
            transport.close()


async def serve(host: str, port: int, latency: float = 0.0, chunks: int = 8) -> asyncio.Server:
    answers = build_answers(chunks=chunks)
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: MockUpstreamProtocol(answers, latency), host, port, backlog=1024)


def main() -> None:
    parser = argparse.ArgumentParser(description="Fast mock OpenAI-compatible upstream for benchmarks")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--chunks", type=int, default=8, help="content chunks per streamed answer")
    args = parser.parse_args()

    async def run() -> None:
        server = await serve(args.host, args.port, args.latency_ms / 1000.0, args.chunks)
        print(f"mock upstream listening on http://{args.host}:{args.port}/v1", flush=True)
        async with server:
            await server.serve_forever()

    try:
        import uvloop

        uvloop.run(run())
    except ImportError:
        asyncio.run(run())


if __name__ == "__main__":
    main()
