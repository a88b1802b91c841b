"""The OpenAI-compatible provider at wire level, with HTTP mocked by respx and MockTransport."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from llmgateway import errors as e
from llmgateway.provider import ProviderContext
from llmgateway.transport import HttpPool
from llmgateway.types import ChatCompletionRequest, CompletionRequest, EmbeddingRequest
from providers.openai_compat import OpenAICompatProvider, OpenAICompatSettings

BASE = "http://upstream.test/v1"
CHAT = {
    "id": "c1",
    "object": "chat.completion",
    "created": 1,
    "model": "up-model",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10},
}
REQUEST = ChatCompletionRequest.model_validate(
    {"model": "chat", "messages": [{"role": "user", "content": "capital?"}], "temperature": 0, "x_custom": 7}
)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as c:
        yield c


def make(client: httpx.AsyncClient, **settings: object) -> OpenAICompatProvider:
    values = {"base_url": BASE, "model": "up-model", "api_key": "sk-test", **settings}
    parsed = OpenAICompatSettings.model_validate(values)
    return OpenAICompatProvider.from_settings("dep", parsed, ProviderContext(http=HttpPool(client)))


def sse(*events: object) -> bytes:
    return b"".join(
        b"data: " + (e if isinstance(e, bytes) else json.dumps(e).encode()) + b"\n\n" for e in events
    )


def chunk(content: str | None = None, finish: str | None = None, usage: dict[str, int] | None = None) -> dict:
    choices = [] if usage else [{"index": 0, "delta": {"content": content}, "finish_reason": finish}]
    out: dict = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "up",
        "choices": choices,
    }
    if usage:
        out["usage"] = usage
    return out


@respx.mock
async def test_chat_sends_openai_body_and_headers(client: httpx.AsyncClient) -> None:
    route = respx.post(f"{BASE}/chat/completions").respond(200, json=CHAT)
    provider = make(client, headers={"X-Team": "blue"}, query={"api-version": "2024-10"})
    reply = await provider.chat(REQUEST)
    assert reply.text() == "Paris" and reply.usage is not None and reply.usage.total_tokens == 10
    sent = route.calls.last.request
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.headers["x-team"] == "blue"
    assert sent.url.params["api-version"] == "2024-10"
    body = json.loads(sent.content)
    assert body["model"] == "up-model"  # the upstream's own model name
    assert body["x_custom"] == 7  # unknown fields pass through
    assert body["stream"] is False
    assert "top_p" not in body  # unset parameters are not sent as null


@respx.mock
@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, e.BadRequestError),
        (401, e.AuthenticationError),
        (429, e.RateLimitError),
        (500, e.UpstreamServerError),
        (503, e.ServiceUnavailableError),
    ],
)
async def test_error_statuses_map_to_classes(client: httpx.AsyncClient, status: int, cls: type) -> None:
    respx.post(f"{BASE}/chat/completions").respond(
        status, json={"error": {"message": "nope"}}, headers={"retry-after-ms": "250"}
    )
    with pytest.raises(cls) as caught:
        await make(client).chat(REQUEST)
    assert caught.value.deployment == "dep"
    assert caught.value.status_code == status
    if status in (429, 503):
        assert caught.value.retry_after == 0.25


@respx.mock
async def test_transport_failures(client: httpx.AsyncClient) -> None:
    route = respx.post(f"{BASE}/chat/completions")
    route.side_effect = httpx.ConnectError("refused")
    with pytest.raises(e.APIConnectionError):
        await make(client).chat(REQUEST)
    route.side_effect = httpx.ReadTimeout("slow")
    with pytest.raises(e.APITimeoutError):
        await make(client).chat(REQUEST)


@respx.mock
async def test_invalid_json_answer_is_an_upstream_error(client: httpx.AsyncClient) -> None:
    respx.post(f"{BASE}/chat/completions").respond(200, content=b"<html>gateway</html>")
    with pytest.raises(e.UpstreamServerError, match="not valid OpenAI JSON"):
        await make(client).chat(REQUEST)


@respx.mock
async def test_stream_parses_events_and_asks_for_usage(client: httpx.AsyncClient) -> None:
    body = sse(
        chunk("Pa"),
        chunk("ris"),
        chunk(finish="stop"),
        chunk(usage={"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}),
        b"[DONE]",
    )
    route = respx.post(f"{BASE}/chat/completions").respond(
        200, content=body, headers={"content-type": "text/event-stream"}
    )
    chunks = [c async for c in make(client).stream_chat(REQUEST)]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Paris"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 5
    sent = json.loads(route.calls.last.request.content)
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}


async def test_stream_events_split_across_network_reads() -> None:
    payload = sse(chunk("Hel"), chunk("lo"), chunk(finish="stop"), b"[DONE]")

    async def pieces() -> AsyncIterator[bytes]:
        for i in range(0, len(payload), 7):  # cut through lines and events
            yield payload[i : i + 7]

    class Stream(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            async for part in pieces():
                yield part

    transport = httpx.MockTransport(lambda request: httpx.Response(200, stream=Stream()))
    async with httpx.AsyncClient(transport=transport) as client:
        chunks = [c async for c in make(client).stream_chat(REQUEST)]
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Hello"


@respx.mock
async def test_stream_error_event_and_missing_done(client: httpx.AsyncClient) -> None:
    route = respx.post(f"{BASE}/chat/completions")
    route.respond(200, content=sse(chunk("a"), {"error": {"message": "overloaded"}}))
    with pytest.raises(e.StreamInterruptedError, match="overloaded") as caught:
        [c async for c in make(client).stream_chat(REQUEST)]
    assert caught.value.chunks_received == 1
    route.respond(200, content=sse(chunk("a"), chunk("b")))
    with pytest.raises(e.StreamInterruptedError, match="without a finish reason"):
        [c async for c in make(client).stream_chat(REQUEST)]
    route.respond(429, json={"error": {"message": "slow down"}}, headers={"retry-after": "2"})
    with pytest.raises(e.RateLimitError) as limited:
        [c async for c in make(client).stream_chat(REQUEST)]
    assert limited.value.retry_after == 2.0


@respx.mock
async def test_embeddings_and_completions(client: httpx.AsyncClient) -> None:
    respx.post(f"{BASE}/embeddings").respond(
        200, json={"object": "list", "model": "e", "data": [{"index": 0, "embedding": [0.5, 0.5]}]}
    )
    respx.post(f"{BASE}/completions").respond(
        200, json={"id": "x", "created": 1, "model": "m", "choices": [{"index": 0, "text": "ok"}]}
    )
    provider = make(client)
    embedded = await provider.embeddings(EmbeddingRequest(model="e", input="hi"))
    assert embedded.data[0].embedding == [0.5, 0.5]
    completed = await provider.completions(CompletionRequest(model="m", prompt="say ok"))
    assert completed.choices[0].text == "ok"
    disabled = make(client, embeddings=False)
    with pytest.raises(e.UnsupportedOperationError):
        await disabled.embeddings(EmbeddingRequest(model="e", input="hi"))
