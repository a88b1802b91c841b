"""Builders shared by the vertex provider's unit tests."""

from __future__ import annotations

from typing import Any

import httpx

from llmgateway.transport import HttpxSender
from llmgateway.types import ChatCompletionRequest
from providers.gcp.auth import StaticToken
from providers.gcp.settings import VertexSettings
from providers.vertex import VertexProvider

BASE = "https://us-central1-aiplatform.googleapis.com/v1/projects/proj/locations/us-central1/endpoints"
REQUEST = ChatCompletionRequest.model_validate(
    {
        "model": "chat",
        "messages": [{"role": "user", "content": "capital?"}],
        "max_tokens": 5,
        "temperature": 0,
    }
)
OPENAI_ANSWER = {
    "id": "c1",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10},
}


def settings(**values: Any) -> VertexSettings:
    return VertexSettings.model_validate(
        {"project": "proj", "endpoint": "42", "access_token": "tok", **values}
    )


def provider(handler: Any, **values: Any) -> VertexProvider:
    """A provider posting through an httpx client on ``MockTransport(handler)``."""
    s = settings(**values)
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return VertexProvider("vx", s, HttpxSender(client), StaticToken("tok"))


def status_body(code: int, status: str, message: str = "boom", **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status, **extra}}


def gateway_config(**values: Any) -> dict[str, Any]:
    deployment = {
        "name": "vx",
        "provider": "vertex",
        "settings": {"project": "proj", "endpoint": "42", "access_token": "tok", **values},
    }
    retry = {"max_rounds": 3, "backoff_initial": 0.001, "backoff_max": 0.002}
    return {"models": {"chat": {"deployments": [deployment], "routing": {"retry": retry}}}}
