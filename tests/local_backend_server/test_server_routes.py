"""The backend server's three contracts, through ASGI, on the tiny model."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from local_backend.routes_vertex import VertexRoutes
from local_backend.server import create_app
from local_backend.service import LocalService

GREEDY = {"temperature": 0, "max_tokens": 12}
CHAT = {"model": "tiny", "messages": [{"role": "user", "content": "Say something"}], **GREEDY}
VERTEX = VertexRoutes(port=8080, health="/isalive", predict="/v1/endpoints/e1/deployedModels/d1:predict")


@pytest.fixture
async def client(tiny_service: LocalService) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(service=tiny_service, vertex=VERTEX)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://backend") as c:
        yield c


def sse_events(body: str) -> list[str]:
    return [line[len("data: ") :] for line in body.splitlines() if line.startswith("data: ")]


async def test_chat_plain_and_streamed_give_the_same_greedy_text(client: httpx.AsyncClient) -> None:
    plain = (await client.post("/v1/chat/completions", json=CHAT)).json()
    assert plain["object"] == "chat.completion" and plain["model"] == "tiny"
    usage = plain["usage"]
    assert usage["completion_tokens"] == 12 and usage["compute_seconds"] > 0
    assert plain["choices"][0]["finish_reason"] == "length"
    bare = sse_events((await client.post("/v1/chat/completions", json={**CHAT, "stream": True})).text)
    assert all("usage" not in json.loads(e) for e in bare[:-1])  # only when include_usage asks
    streamed = await client.post(
        "/v1/chat/completions", json={**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    )
    assert streamed.headers["content-type"].startswith("text/event-stream")
    events = sse_events(streamed.text)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == plain["choices"][0]["message"]["content"]
    assert chunks[-1]["usage"]["completion_tokens"] == 12  # usage chunk, as include_usage gives


async def test_completions_plain_and_streamed(client: httpx.AsyncClient) -> None:
    body = {"model": "tiny", "prompt": "Once upon a time", **GREEDY}
    plain = (await client.post("/v1/completions", json=body)).json()
    assert plain["object"] == "text_completion" and plain["usage"]["prompt_tokens"] > 0
    events = sse_events((await client.post("/v1/completions", json={**body, "stream": True})).text)
    text = "".join(json.loads(e)["choices"][0]["text"] for e in events[:-1])
    assert text == plain["choices"][0]["text"]


async def test_models_and_metrics(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/models")).json()["data"][0]["id"] == "tiny"
    await client.post("/v1/chat/completions", json=CHAT)
    metrics = (await client.get("/metrics")).text
    for name in (
        "local_backend_queue_depth",
        "local_backend_running_batch",
        "local_backend_tokens_per_second",
        "local_backend_replicas 1",
    ):
        assert name in metrics
    assert "local_backend_completion_tokens_total 12" in metrics


async def test_sagemaker_ping_and_tgi_invocations(client: httpx.AsyncClient) -> None:
    assert (await client.get("/ping")).status_code == 200
    body = {"inputs": "Hello there", "parameters": {"max_new_tokens": 6, "details": True}}
    answer = (await client.post("/invocations", json=body)).json()
    assert isinstance(answer, list) and set(answer[0]) == {"generated_text", "details"}
    assert answer[0]["details"]["generated_tokens"] == 6
    assert answer[0]["details"]["finish_reason"] == "length"
    full = (
        await client.post(
            "/invocations", json={**body, "parameters": {"max_new_tokens": 6, "return_full_text": True}}
        )
    ).json()
    assert full[0]["generated_text"] == "Hello there" + answer[0]["generated_text"]
    events = sse_events((await client.post("/invocations", json={**body, "stream": True})).text)
    parsed = [json.loads(e) for e in events]
    assert all("token" in p for p in parsed)
    assert parsed[-1]["generated_text"] == answer[0]["generated_text"]
    assert parsed[-1]["details"]["generated_tokens"] == 6 and parsed[0]["generated_text"] is None


async def test_sagemaker_messages_shape(client: httpx.AsyncClient) -> None:
    body = {"messages": CHAT["messages"], **GREEDY}
    answer = (await client.post("/invocations", json=body)).json()
    assert answer["object"] == "chat.completion"
    chat = (await client.post("/v1/chat/completions", json=CHAT)).json()
    assert answer["choices"][0]["message"]["content"] == chat["choices"][0]["message"]["content"]


async def test_vertex_routes_from_aip_environment(client: httpx.AsyncClient) -> None:
    assert (await client.get("/isalive")).status_code == 200
    body = {
        "instances": ["Hello there", {"prompt": "Hello there"}, {"messages": CHAT["messages"]}],
        "parameters": {"max_tokens": 5, "temperature": 0},
    }
    answer = (await client.post(VERTEX.predict, json=body)).json()
    predictions = answer["predictions"]
    assert len(predictions) == 3 and all(isinstance(p, str) for p in predictions)
    assert predictions[0] == predictions[1]  # greedy: same prompt, same text
    assert answer["usage"]["completion_tokens"] == 15
    assert VertexRoutes.from_env({"AIP_HTTP_PORT": "7070", "AIP_PREDICT_ROUTE": "/p"}) == VertexRoutes(
        7070, "/health", "/p"
    )


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/v1/chat/completions", b"{bad", "not valid JSON"),
        ("/v1/chat/completions", b'{"model": "x", "messages": []}', "messages"),
        (
            "/v1/chat/completions",
            b'{"model": "x", "messages": [{"role": "user", "content": "x"}], "n": 2}',
            "n=1",
        ),
        ("/invocations", b'{"inputs": "x", "parameters": {"bogus": 1}}', "unknown TGI parameters: bogus"),
        ("/invocations", b'{"inputs": 5}', "'inputs' must be a non-empty string"),
        (VERTEX.predict, b'{"instances": []}', "instances"),
        ("/v1/embeddings", b'{"model": "x", "input": [[1, 2]]}', "token-id input"),
    ],
)
async def test_bad_requests_get_400_with_openai_error_body(
    client: httpx.AsyncClient, path: str, body: bytes, message: str
) -> None:
    response = await client.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


async def test_prompt_longer_than_context_is_a_context_error(client: httpx.AsyncClient) -> None:
    long_prompt = "word " * 5000
    response = await client.post("/v1/completions", json={"model": "tiny", "prompt": long_prompt})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "context_length_exceeded"


async def test_embeddings_from_the_bundled_minilm(client: httpx.AsyncClient) -> None:
    body = {
        "model": "embed",
        "input": ["The cat sits on the mat.", "A cat is sitting on a rug.", "Stock prices fell."],
    }
    answer = (await client.post("/v1/embeddings", json=body)).json()
    vectors = [item["embedding"] for item in answer["data"]]
    assert answer["model"] == "all-MiniLM-L6-v2" and len(vectors) == 3 and len(vectors[0]) == 384
    dot = lambda a, b: sum(x * y for x, y in zip(a, b, strict=True))  # noqa: E731  (unit: dot = cosine)
    assert dot(vectors[0], vectors[1]) > dot(vectors[0], vectors[2])
    assert answer["usage"]["prompt_tokens"] > 0


async def test_echo_logprobs_scores_the_prompt(client: httpx.AsyncClient, tiny_service: LocalService) -> None:
    import math

    from local_backend.scoring import score_text

    text = "The quick brown fox jumps over the lazy dog."
    answer = (
        await client.post(
            "/v1/completions",
            json={"model": "tiny", "prompt": text, "echo": True, "logprobs": 0, "max_tokens": 1},
        )
    ).json()
    choice = answer["choices"][0]
    assert choice["text"] == text
    logprobs = choice["logprobs"]
    assert len(logprobs["tokens"]) == len(logprobs["token_logprobs"]) == len(logprobs["text_offset"])
    scored = [lp for lp in logprobs["token_logprobs"] if lp is not None]
    expected = score_text(tiny_service.engine, text)
    assert math.isclose(math.exp(-sum(scored) / len(scored)), expected.perplexity, rel_tol=1e-6)
