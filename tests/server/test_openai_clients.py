"""The official openai package (sync and async) and curl against the real proxy."""

from __future__ import annotations

import json
import subprocess
import time

import openai
import pytest

from llmgateway.caller import Caller
from llmgateway.server.auth import bearer_token
from llmgateway.server.principal import Principal
from tests.server.harness import MASTER_KEY, RunningServer

USER = [{"role": "user", "content": "hello proxy"}]


def client(server: RunningServer, key: str = MASTER_KEY, retries: int = 0) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=retries, timeout=10)


def test_sync_chat_with_headers(server: RunningServer) -> None:
    raw = client(server).chat.completions.with_raw_response.create(model="chat", messages=USER)
    reply = raw.parse()
    assert reply.choices[0].message.content == "You said: hello proxy"
    assert reply.usage is not None and reply.usage.completion_tokens == 4
    assert raw.headers["x-llmgateway-deployment"] == "mock-chat"
    assert raw.headers["x-llmgateway-attempts"] == "1"
    assert raw.headers["x-llmgateway-cache"] == "off"
    assert "x-llmgateway-cost" in raw.headers
    assert (reply.model_extra or {})["gateway"]["deployment"] == "mock-chat"


async def test_async_client(server: RunningServer) -> None:
    async with openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key=MASTER_KEY, max_retries=0) as aclient:
        reply = await aclient.chat.completions.create(
            model="chat", messages=USER, extra_body={"my_upstream_knob": 7}, temperature=0.2
        )
    assert reply.choices[0].message.content == "You said: hello proxy"
    provider = next(d.provider for d in server.state.gateway.deployments() if d.name == "mock-chat")
    sent = provider.calls[-1]  # type: ignore[attr-defined]
    assert sent.model_extra["my_upstream_knob"] == 7 and sent.temperature == 0.2


def test_streaming_with_usage(server: RunningServer) -> None:
    stream = client(server).chat.completions.create(
        model="chat", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "You said: hello proxy"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 6
    assert (chunks[-1].model_extra or {})["gateway"]["deployment"] == "mock-chat"


def test_streaming_without_usage(server: RunningServer) -> None:
    chunks = list(client(server).chat.completions.create(model="chat", messages=USER, stream=True))
    assert all(c.usage is None for c in chunks)


def test_embeddings_completions_models(server: RunningServer) -> None:
    c = client(server)
    vectors = c.embeddings.create(model="chat", input=["a", "b"])
    assert len(vectors.data) == 2 and len(vectors.data[0].embedding) == 8
    completion = c.completions.create(model="chat", prompt="say it")
    assert completion.choices[0].text == "You said: say it"
    names = [m.id for m in c.models.list()]
    assert "chat" in names and "slow" in names
    assert c.models.retrieve("chat").id == "chat"
    with pytest.raises(openai.NotFoundError):
        c.models.retrieve("nope")


def test_errors_map_to_openai_classes(server: RunningServer) -> None:
    with pytest.raises(openai.AuthenticationError):
        client(server, key="sk-wrong-wrong-wrong").chat.completions.create(model="chat", messages=USER)
    c = client(server)
    with pytest.raises(openai.NotFoundError) as missing:
        c.chat.completions.create(model="nope", messages=USER)
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as bad:
        c.chat.completions.create(model="chat", messages=[])
    assert bad.value.param == "messages"
    with pytest.raises(openai.APIStatusError) as budget:
        c.chat.completions.create(model="broke", messages=USER)
    assert budget.value.status_code == 402
    with pytest.raises(openai.InternalServerError) as upstream:
        c.chat.completions.create(model="broken", messages=USER)
    assert upstream.value.status_code == 502


def test_rate_limit_and_retry_after(server: RunningServer) -> None:
    c = client(server)
    c.chat.completions.create(model="limited", messages=USER)
    with pytest.raises(openai.RateLimitError) as limited:
        c.chat.completions.create(model="limited", messages=USER)
    retry_after = float(limited.value.response.headers["retry-after"])
    assert 1 <= retry_after <= 2
    # The client waits as told, then gets through.
    started = time.monotonic()
    reply = client(server, retries=2).chat.completions.create(model="limited", messages=USER)
    assert reply.choices[0].message.content
    assert time.monotonic() - started >= 0.3


def test_key_limited_to_some_models(server: RunningServer) -> None:
    real = server.state.authenticator

    class OnlyChat:
        async def authenticate(self, authorization: str | None) -> Principal:
            if bearer_token(authorization) == "sk-only-chat-key-000":
                return Principal(Caller(key="k1"), models=frozenset({"chat"}))
            return await real.authenticate(authorization)

        async def aclose(self) -> None:
            return None

    server.state.authenticator = OnlyChat()
    try:
        c = client(server, key="sk-only-chat-key-000")
        assert c.chat.completions.create(model="chat", messages=USER).choices
        with pytest.raises(openai.PermissionDeniedError) as denied:
            c.chat.completions.create(model="other", messages=USER)
        assert denied.value.code == "model_not_allowed"
        assert [m.id for m in c.models.list()] == ["chat"]
    finally:
        server.state.authenticator = real


def _curl(server: RunningServer, body: dict[str, object]) -> str:
    result = subprocess.run(
        [
            "curl", "-sS", "-N", f"{server.url}/v1/chat/completions",
            "-H", f"Authorization: Bearer {MASTER_KEY}", "-H", "Content-Type: application/json",
            "-d", json.dumps(body),
        ],
        capture_output=True, text=True, timeout=15, check=True,
    )  # fmt: skip
    return result.stdout


def test_curl_plain_and_streamed(server: RunningServer) -> None:
    plain = json.loads(_curl(server, {"model": "chat", "messages": USER}))
    assert plain["choices"][0]["message"]["content"] == "You said: hello proxy"
    streamed = _curl(server, {"model": "chat", "messages": USER, "stream": True})
    events = [line[6:] for line in streamed.split("\n\n") if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    text = "".join(json.loads(e)["choices"][0]["delta"].get("content", "") for e in events[:-1])
    assert text == "You said: hello proxy"
