"""Every HTTP provider bounds a call by the caller's timeout when given, else by its deployment's
``timeout`` setting (ProviderBase._timeout), on the plain and the streamed route."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from bench.sagemaker_fake import deployment_settings
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


@pytest.mark.parametrize("build", [openai, sagemaker, vertex])
async def test_calls_are_bounded_by_the_callers_timeout_else_the_setting(
    build: Callable[[HttpPool], ProviderBase],
) -> None:
    seen: list[Any] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"]["read"])
        return httpx.Response(200, content=json.dumps(ANSWER).encode())

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        provider = build(HttpPool(client))
        await provider.chat(REQUEST)
        await provider.chat(REQUEST, timeout=2.0)
    assert seen == [SETTING, 2.0]
