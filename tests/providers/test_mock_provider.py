"""MockProvider's scripted faults, one by one."""

from __future__ import annotations

import time

import pytest

from llmgateway import errors as e
from llmgateway.provider import ProviderContext
from llmgateway.transport import HttpPool
from llmgateway.types import ChatCompletionRequest, EmbeddingRequest
from providers.mock import (
    ConnectionReset,
    Delay,
    DropStream,
    MockProvider,
    MockSettings,
    RateLimited,
    ServerError,
    Timeout,
)

REQUEST = ChatCompletionRequest.model_validate(
    {"model": "m", "messages": [{"role": "user", "content": "one two"}]}
)


async def test_default_answer_echoes_with_usage() -> None:
    reply = await MockProvider().chat(REQUEST)
    assert reply.text() == "You said: one two"
    assert reply.usage is not None and reply.usage.prompt_tokens == 2 and reply.usage.completion_tokens == 4


async def test_handler_may_be_async() -> None:
    async def handler(request: ChatCompletionRequest) -> str:
        return "async answer"

    assert (await MockProvider(handler).chat(REQUEST)).text() == "async answer"


async def test_latency_and_delay_steps() -> None:
    provider = MockProvider(latency=0.02, script=[Delay(0.03)])
    start = time.perf_counter()
    await provider.chat(REQUEST)
    assert time.perf_counter() - start >= 0.05


@pytest.mark.parametrize(
    ("step", "cls"),
    [
        (ServerError(503), e.ServiceUnavailableError),
        (ServerError(400), e.BadRequestError),
        (RateLimited(2.5), e.RateLimitError),
        (Timeout(0.01), e.APITimeoutError),
        (ConnectionReset(), e.APIConnectionError),
        (DropStream(1), e.APIConnectionError),
    ],
)
async def test_each_fault_raises_its_error_then_recovers(step: object, cls: type) -> None:
    provider = MockProvider(name="m1", script=[step])  # type: ignore[list-item]
    with pytest.raises(cls) as caught:
        await provider.chat(REQUEST)
    assert caught.value.deployment == "m1"
    if isinstance(step, RateLimited):
        assert caught.value.retry_after == 2.5
    assert (await provider.chat(REQUEST)).text().startswith("You said")


async def test_stream_drops_mid_way() -> None:
    provider = MockProvider(lambda r: "a b c d", script=[DropStream(after_chunks=2)])
    received = []
    with pytest.raises(e.StreamInterruptedError) as caught:
        async for chunk in provider.stream_chat(REQUEST):
            received.append(chunk)
    assert caught.value.chunks_received == 3  # the role chunk and two content chunks
    assert [c.choices[0].delta.content for c in received] == ["", "a ", "b "]


async def test_stream_ends_with_finish_and_usage() -> None:
    chunks = [c async for c in MockProvider(lambda r: "x y").stream_chat(REQUEST)]
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 2


async def test_script_repeats_when_asked() -> None:
    provider = MockProvider(script=[ServerError(500), None], repeat=True)
    outcomes = []
    for _ in range(4):
        try:
            await provider.chat(REQUEST)
            outcomes.append("ok")
        except e.UpstreamServerError:
            outcomes.append("err")
    assert outcomes == ["err", "ok", "err", "ok"]


async def test_settings_from_config_build_the_same_script() -> None:
    settings = MockSettings.model_validate(
        {
            "reply": "fixed",
            "script": [{"fault": "rate_limit", "retry_after": 4}, {"fault": "error", "status": 502}],
        }
    )
    provider = MockProvider.from_settings("cfg", settings, ProviderContext(http=HttpPool()))
    with pytest.raises(e.RateLimitError):
        await provider.chat(REQUEST)
    with pytest.raises(e.UpstreamServerError):
        await provider.chat(REQUEST)
    assert (await provider.chat(REQUEST)).text() == "fixed"


async def test_embeddings_are_deterministic_unit_vectors() -> None:
    provider = MockProvider(embedding_dim=16)
    a = await provider.embeddings(EmbeddingRequest(model="e", input=["x", "y"]))
    b = await provider.embeddings(EmbeddingRequest(model="e", input="x"))
    assert a.data[0].embedding == b.data[0].embedding
    assert abs(sum(v * v for v in a.data[0].embedding) - 1.0) < 1e-9  # type: ignore[union-attr]
