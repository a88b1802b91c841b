"""SageMaker unit-test helpers: a clean AWS environment, providers on an httpx MockTransport whose
handler answers like the runtime (checking signatures with botocore), and canned answers."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.sagemaker_fake import (
    ACCESS_KEY,
    ERROR_SHAPES,
    REGION,
    SECRET_KEY,
    check_signature,
    deployment_settings,
)
from llmgateway.provider import ProviderContext
from llmgateway.transport import HttpPool
from providers.aws.sagemaker_settings import SageMakerSettings
from providers.sagemaker import SageMakerProvider

RUNTIME = f"https://runtime.sagemaker.{REGION}.amazonaws.com"
ENDPOINT = "my-endpoint"
USER = [{"role": "user", "content": "What is the capital of France?"}]
CHAT_ANSWER = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "tgi",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10},
}


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No AWS settings from the machine: no AWS_* variables, empty shared files (and boto2 config)
    in tmp_path, no metadata service (a lookup would wait on 169.254.169.254). Yields the directory
    for the shared files."""
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    (tmp_path / "credentials").write_text("")
    (tmp_path / "config").write_text("")
    (tmp_path / "boto").write_text("")
    monkeypatch.setenv("BOTO_CONFIG", str(tmp_path / "boto"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    yield tmp_path


@pytest.fixture
def env_keys(aws_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_REGION", REGION)


@dataclass
class Runtime:
    """An httpx handler that answers like the SageMaker runtime: checks the signature with
    botocore, then answers the next scripted reply (an error shape name, or a Response)."""

    keys: dict[str, tuple[str, str | None]] = field(default_factory=lambda: {ACCESS_KEY: (SECRET_KEY, None)})
    replies: list[str | httpx.Response] = field(default_factory=list)
    default: Callable[[httpx.Request], httpx.Response] = lambda request: httpx.Response(200, json=CHAT_ANSWER)
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        headers = {k.lower(): v for k, v in request.headers.items()}
        refused = check_signature(request.method, str(request.url), headers, request.content, self.keys)
        if refused is not None:
            return shape_response(refused)
        if self.replies:
            reply = self.replies.pop(0)
            return shape_response(reply) if isinstance(reply, str) else reply
        return self.default(request)


def shape_response(name: str) -> httpx.Response:
    shape = ERROR_SHAPES[name]
    headers = {"x-amzn-RequestId": "req-1"}
    if shape.error_type is not None:
        headers["x-amzn-ErrorType"] = shape.error_type
    return httpx.Response(shape.status, content=json.dumps(shape.body).encode(), headers=headers)


@pytest.fixture
def runtime() -> Runtime:
    return Runtime()


@pytest.fixture
async def mock_client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(runtime)) as client:
        yield client


def settings(**values: Any) -> SageMakerSettings:
    return SageMakerSettings.model_validate({**deployment_settings(ENDPOINT), **values})


def make_provider(client: httpx.AsyncClient, **values: Any) -> SageMakerProvider:
    provider = SageMakerProvider.from_settings(
        "sm", settings(**values), ProviderContext(http=HttpPool(client))
    )
    assert isinstance(provider, SageMakerProvider)
    return provider


def gateway_config(*deployments: dict[str, Any], **routing: Any) -> dict[str, Any]:
    """A gateway config with the given sagemaker deployments (settings merged over the test keys)."""
    built = []
    for index, extra in enumerate(deployments):
        values = {**deployment_settings(ENDPOINT), **extra}
        built.append({"name": f"sm-{index}", "provider": "sagemaker", "settings": values})
    retry = {"backoff_initial": 0.0, "backoff_max": 0.0, **routing}
    return {"models": {"chat": {"deployments": built, "routing": {"retry": retry}}}}
