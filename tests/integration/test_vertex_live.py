"""The vertex provider through the Gateway against real servers on 127.0.0.1: the local backend in
its Vertex container mode (tiny random model; the bundled SmolLM2 in one test) behind the fake
Vertex API front, for predict, rawPredict / streamRawPredict (OpenAI and TGI bodies) and chat
completions (a deployed endpoint and ``openapi``), plain and streamed; bearer checks; injected
Google error shapes retried or not; and the example script run against it."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from llmgateway import Gateway
from llmgateway.errors import AuthenticationError, BadRequestError, StreamInterruptedError
from local_backend.engine import LocalEngine
from local_backend.routes_vertex import VertexRoutes
from local_backend.scheduler import BatchScheduler
from local_backend.server import create_app
from local_backend.service import LocalService
from tests.asgi_server import serving
from tests.integration.vertex_fake import Endpoint, FakeVertex, fake_vertex

pytestmark = pytest.mark.integration

TOKEN = "ya29.static-test-token"
ROOT = Path(__file__).resolve().parents[2]
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
ENDPOINTS = {
    "111": Endpoint(predict_route="/predict"),  # a custom container: instances -> predictions
    "222": Endpoint(predict_route="/v1/chat/completions"),  # vLLM-style: OpenAI chat on rawPredict
    "333": Endpoint(predict_route="/invocations"),  # TGI-style: inputs/parameters on rawPredict
}


async def _backend(engine: LocalEngine, model_id: str) -> AsyncIterator[str]:
    scheduler = BatchScheduler(engine, max_batch=8, max_queue=16)
    await scheduler.start(warmup=False)
    service = LocalService(engine, scheduler, model_id=model_id, default_max_tokens=12)
    app = create_app(service=service, vertex=VertexRoutes(port=0, health="/health", predict="/predict"))
    try:
        async with serving(app) as url:
            yield url
    finally:
        await service.aclose()


@pytest.fixture
async def fake(tiny_engine: LocalEngine) -> AsyncIterator[FakeVertex]:
    async for backend_url in _backend(tiny_engine, "tiny"):
        async with fake_vertex(backend_url, endpoints=ENDPOINTS) as front:
            front.allow(TOKEN)
            yield front


def config(fake: FakeVertex, **settings: Any) -> dict[str, Any]:
    values = {
        "project": fake.project,
        "region": fake.region,
        "api_endpoint": fake.url,
        "access_token": TOKEN,
        **settings,
    }
    pricing = {"input_per_million": "1", "output_per_million": "2"}
    deployment = {"name": "vertex", "provider": "vertex", "settings": values, "pricing": pricing}
    retry = {"max_rounds": 3, "backoff_initial": 0.01, "backoff_max": 0.02}
    return {"models": {"chat": {"deployments": [deployment], "routing": {"retry": retry}}}}


async def ask(gw: Gateway, **params: Any) -> Any:
    return await gw.chat.completions.create(
        model="chat", messages=QUESTION, **{"max_tokens": 8, "temperature": 0, **params}
    )


async def ask_streamed(gw: Gateway) -> tuple[str, Any]:
    stream = await gw.chat.completions.create(
        model="chat", messages=QUESTION, max_tokens=8, temperature=0, stream=True
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    return text, stream


async def test_predict_generates_with_estimated_usage(fake: FakeVertex) -> None:
    async with Gateway(config(fake, endpoint="111", route="predict")) as gw:
        reply = await ask(gw)
    assert reply.text() and reply.choices[0].finish_reason == "stop"
    assert reply.model == "tiny-chat"  # the deployed model's display name, from the answer
    # :predict carries no token counts and no tokenizer is set: the gateway estimates and says so.
    assert reply.usage is None and reply.gateway is not None
    assert reply.gateway.cost.estimated and reply.gateway.cost.total > 0
    assert fake.seen == [
        ("/v1/projects/test-project/locations/us-central1/endpoints/111:predict", f"Bearer {TOKEN}")
    ]


async def test_predict_prompt_instance_rendered_with_template(fake: FakeVertex) -> None:
    predict = {"instance": "prompt", "parameter_names": {"max_tokens": "max_new_tokens"}}
    settings = {"endpoint": "111", "route": "predict", "predict": predict, "chat_template": "chatml"}
    async with Gateway(config(fake, **settings)) as gw:
        reply = await ask(gw, n=2)
    assert len(reply.choices) == 2 and all(c.message.content for c in reply.choices)


async def test_raw_openai_body_plain_and_streamed(fake: FakeVertex) -> None:
    async with Gateway(config(fake, endpoint="222", route="raw", model="tiny")) as gw:
        reply = await ask(gw)
        text, stream = await ask_streamed(gw)
    assert reply.usage is not None and reply.usage.completion_tokens > 0
    assert reply.gateway is not None and not reply.gateway.cost.estimated
    assert text == reply.text()  # greedy: the same words either way
    assert stream.gateway is not None and not stream.gateway.cost.estimated
    assert [path.rsplit(":", 1)[1] for path, _ in fake.seen] == ["rawPredict", "streamRawPredict"]


async def test_raw_tgi_body_plain_and_streamed(fake: FakeVertex) -> None:
    async with Gateway(config(fake, endpoint="333", route="raw", raw_format="tgi")) as gw:
        reply = await ask(gw)
        text, stream = await ask_streamed(gw)
    # The container's TGI details carry both counts: exact usage, not estimated.
    assert reply.usage is not None and reply.usage.prompt_tokens > 0
    assert reply.gateway is not None and not reply.gateway.cost.estimated
    assert text == reply.text() and text
    assert stream.usage is not None and stream.usage.completion_tokens == reply.usage.completion_tokens


@pytest.mark.parametrize(("endpoint", "model"), [("111", None), ("openapi", "meta/tiny-chat-maas")])
async def test_chat_completions_route_plain_and_streamed(
    fake: FakeVertex, endpoint: str, model: str | None
) -> None:
    settings = {
        "endpoint": endpoint,
        "route": "chat",
        "api_version": "v1beta1",
        **({"model": model} if model else {}),
    }
    async with Gateway(config(fake, **settings)) as gw:
        reply = await ask(gw)
        text, stream = await ask_streamed(gw)
    assert reply.text() and text == reply.text()
    assert reply.gateway is not None and not reply.gateway.cost.estimated
    assert stream.gateway is not None and not stream.gateway.cost.estimated
    assert all(path.endswith(f"/endpoints/{endpoint}/chat/completions") for path, _ in fake.seen)
    assert all(path.startswith("/v1beta1/") for path, _ in fake.seen)


async def test_wrong_token_is_unauthenticated_and_not_retried(fake: FakeVertex) -> None:
    async with Gateway(config(fake, endpoint="111", route="predict", access_token="ya29.wrong")) as gw:
        with pytest.raises(AuthenticationError) as caught:
            await ask(gw)
    assert (
        caught.value.code == "UNAUTHENTICATED"
        and "invalid authentication credentials" in caught.value.message
    )
    assert len(fake.seen) == 1


async def test_injected_errors_retried_or_not(fake: FakeVertex) -> None:
    retry_info = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0.01s"}]
    async with Gateway(config(fake, endpoint="222", route="raw")) as gw:
        fake.fail_next(429, "RESOURCE_EXHAUSTED", details=retry_info)
        fake.fail_next(503, "UNAVAILABLE", shape="list")
        reply = await ask(gw)  # two failures, then the answer
        assert reply.gateway is not None and [a.outcome for a in reply.gateway.attempts] == [
            "error",
            "error",
            "ok",
        ]
        fake.fail_next(502, "", shape="html")
        assert (await ask(gw)).text()
        fake.fail_next(400, "INVALID_ARGUMENT", message="max_tokens must be positive")
        calls = len(fake.seen)
        with pytest.raises(BadRequestError, match="max_tokens must be positive"):
            await ask(gw)
        assert len(fake.seen) == calls + 1  # not retried


async def test_error_written_into_a_stream(fake: FakeVertex) -> None:
    async with Gateway(config(fake, endpoint="222", route="raw")) as gw:
        # Before any text reached the caller (only the role chunk): the gateway tries again.
        fake.fail_next(500, "INTERNAL", message="model server crashed", shape="mid_stream")
        text, stream = await ask_streamed(gw)
        assert text and stream.gateway is not None
        assert [a.outcome for a in stream.gateway.attempts] == ["error", "ok"]
        assert "INTERNAL: model server crashed" in (stream.gateway.attempts[0].error or "")
        # After text reached the caller: the stream cannot be replayed; the caller hears of it.
        fake.fail_next(500, "INTERNAL", message="model server crashed", shape="mid_stream", after_events=3)
        stream = await gw.chat.completions.create(model="chat", messages=QUESTION, max_tokens=8, stream=True)
        with pytest.raises(StreamInterruptedError, match="model server crashed") as caught:
            async for _ in stream:
                pass
    assert caught.value.chunks_received >= 2


async def test_example_script_runs_against_the_fake(fake: FakeVertex) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "examples" / "vertex_chat.py"),
        "--project", fake.project, "--region", fake.region, "--endpoint", "222", "--route", "raw",
        "--api-endpoint", fake.url, "--max-tokens", "6",
        cwd=ROOT,
        env={**os.environ, "VERTEX_ACCESS_TOKEN": TOKEN},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    text = out.decode()
    assert "plain:" in text and "streamed:" in text
    assert len(re.findall(r"\[vertex-222, \d+ ms.*, \d+\+\d+ tokens, [\d.]+ USD\]", text)) == 2
    assert [path.rsplit(":", 1)[1] for path, _ in fake.seen] == ["rawPredict", "streamRawPredict"]


def test_example_help() -> None:
    import subprocess

    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "vertex_chat.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and "--route" in done.stdout and "--api-endpoint" in done.stdout


@pytest.mark.model
async def test_bundled_model_answers_through_predict(bundled_engine: LocalEngine) -> None:
    async for backend_url in _backend(bundled_engine, "smollm2"):
        async with fake_vertex(backend_url, endpoints=ENDPOINTS) as front:
            front.allow(TOKEN)
            async with Gateway(config(front, endpoint="111", route="predict")) as gw:
                reply = await ask(gw, max_tokens=16)
    assert "paris" in reply.text().lower()


async def test_cancelled_calls_and_abandoned_streams_leave_the_deployment_usable(fake: FakeVertex) -> None:
    async with Gateway(config(fake, endpoint="222", route="raw")) as gw:
        stream = await gw.chat.completions.create(
            model="chat", messages=QUESTION, max_tokens=200, stream=True
        )
        async for _ in stream:
            break  # the caller stops reading: the upstream stream is closed, not drained
        await stream.aclose()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(ask(gw, max_tokens=40), 0.02)
        assert (await ask(gw)).text()
