"""Every HTTP provider bounds a call by the caller's timeout when given, else by its deployment's
``timeout`` setting (ProviderBase._timeout), on the plain and the streamed route."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from bench.sagemaker_fake import deployment_settings, payload_part
from llmgateway.provider import ProviderBase, ProviderContext
from llmgateway.transport import HttpPool
from llmgateway.types import ChatCompletionRequest
from providers.aws.sagemaker_settings import SageMakerSettings
from providers.gcp.settings import VertexSettings
from providers.openai_compat import OpenAICompatProvider, OpenAICompatSettings
from providers.sagemaker import SageMakerProvider
from providers.vertex import VertexProvider

REQUEST = ChatCompletionRequest.model_validate(
    {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}
)
ANSWER = {
    "id": "c",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
}
CHUNK = {
    "id": "c",
    "object": "chat.completion.chunk",
    "created": 1,
    "model": "m",
    "choices": [{"index": 0, "delta": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
}
SSE = f"data: {json.dumps(CHUNK)}\n\ndata: [DONE]\n\n".encode()
SETTING = 7.0


def test_the_base_uses_the_callers_timeout_else_the_default() -> None:
    class Bounded(ProviderBase):
        default_timeout = 30.0

    provider = Bounded("p")
    assert provider._timeout(None) == 30.0 and provider._timeout(2.5) == 2.5
    assert ProviderBase("unbounded")._timeout(None) is None


def openai(pool: HttpPool) -> ProviderBase:
    settings = OpenAICompatSettings(base_url="http://upstream.test/v1", timeout=SETTING)
    return OpenAICompatProvider.from_settings("oa", settings, ProviderContext(http=pool))


def sagemaker(pool: HttpPool) -> ProviderBase:
    settings = SageMakerSettings.model_validate({**deployment_settings("ep"), "timeout": SETTING})
    return SageMakerProvider.from_settings("sm", settings, ProviderContext(http=pool))


def vertex(pool: HttpPool) -> ProviderBase:
    values = {"project": "proj", "endpoint": "42", "access_token": "tok", "route": "chat", "timeout": SETTING}
    return VertexProvider.from_settings(
        "vx", VertexSettings.model_validate(values), ProviderContext(http=pool)
    )


def answer_recording_the_timeout(seen: list[Any]) -> Callable[[httpx.Request], httpx.Response]:
    """An upstream answering each route in its own shape: JSON, SSE, or SageMaker's event stream of
    SSE payload parts; ``seen`` gets each request's read timeout."""

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"]["read"])
        if request.url.path.endswith("/invocations-response-stream"):
            headers = {"content-type": "application/vnd.amazon.eventstream"}
            return httpx.Response(200, content=payload_part(SSE), headers=headers)
        if json.loads(request.content).get("stream"):
            return httpx.Response(200, content=SSE, headers={"content-type": "text/event-stream"})
        return httpx.Response(200, content=json.dumps(ANSWER).encode())

    return answer


@pytest.mark.parametrize("build", [openai, sagemaker, vertex])
async def test_calls_are_bounded_by_the_callers_timeout_else_the_setting(
    build: Callable[[HttpPool], ProviderBase],
) -> None:
    seen: list[Any] = []
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer_recording_the_timeout(seen))) as client:
        provider = build(HttpPool(client))
        await provider.chat(REQUEST)
        await provider.chat(REQUEST, timeout=2.0)
    assert seen == [SETTING, 2.0]


@pytest.mark.parametrize("build", [openai, sagemaker, vertex])
async def test_streams_are_bounded_by_the_callers_timeout_else_the_setting(
    build: Callable[[HttpPool], ProviderBase],
) -> None:
    seen: list[Any] = []
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer_recording_the_timeout(seen))) as client:
        provider = build(HttpPool(client))
        for timeout in (None, 2.0):
            texts = [c.choices[0].delta.content async for c in provider.stream_chat(REQUEST, timeout=timeout)]
            assert "ok" in texts  # the stream was read to its end, not just opened
    assert seen == [SETTING, 2.0]
