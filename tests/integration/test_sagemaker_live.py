"""SageMakerProvider through the Gateway against real local servers: the local backend in its
SageMaker container mode (tiny random model; the bundled SmolLM2 in the ``model`` test), behind
the fake runtime (bench/sagemaker_fake), which checks every SigV4 signature with
botocore and re-frames the container's stream as real event-stream frames."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from bench.sagemaker_fake import (
    ACCESS_KEY,
    ERROR_SHAPES,
    REGION,
    SECRET_KEY,
    FakeRuntime,
    deployment_settings,
)
from llmgateway import (
    AuthenticationError,
    BadRequestError,
    Gateway,
    StreamInterruptedError,
    UpstreamServerError,
)
from llmgateway import errors as e
from local_backend.engine import LocalEngine
from local_backend.scheduler import BatchScheduler
from local_backend.server import create_app
from local_backend.service import LocalService
from tests.asgi_server import serving

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
USER = [{"role": "user", "content": "What is the capital of France?"}]
RETRYABLE = {
    "ModelError500",
    "ModelError429",
    "ThrottlingException",
    "ThrottlingExceptionBodyOnly",
    "ModelNotReadyException",
    "InternalFailure",
    "ServiceUnavailable",
    "InternalDependencyException",
}


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_engine: LocalEngine, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The tiny model's tokenizer (SmolLM2's, chat template included) as a model directory."""
    directory = tmp_path_factory.mktemp("tiny-tokenizer")
    tiny_engine.tokenizer.save_pretrained(str(directory))
    return str(directory)


@pytest.fixture
async def fake(tiny_service: LocalService) -> AsyncIterator[FakeRuntime]:
    async with serving(create_app(service=tiny_service)) as url:
        runtime = FakeRuntime(container_url=url)
        await runtime.start()
        try:
            yield runtime
        finally:
            await runtime.close()


def config(fake: FakeRuntime, *, max_rounds: int = 3, **settings: Any) -> dict[str, Any]:
    values = {**deployment_settings("my-endpoint", fake.url), **settings}
    deployment = {
        "name": "sm",
        "provider": "sagemaker",
        "settings": values,
        "pricing": {"input_per_million": "1", "output_per_million": "2"},
    }
    retry = {"max_rounds": max_rounds, "backoff_initial": 0.0, "backoff_max": 0.0}
    return {"models": {"chat": {"deployments": [deployment], "routing": {"retry": retry}}}}


async def stream_text(gw: Gateway, **params: Any) -> tuple[str, Any]:
    stream = await gw.chat.completions.create(model="chat", messages=USER, stream=True, **params)
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    return text, stream


async def test_tgi_plain_and_streamed(
    fake: FakeRuntime, tiny_engine: LocalEngine, tiny_tokenizer: str
) -> None:
    cfg = config(fake, format="tgi", tokenizer=tiny_tokenizer, custom_attributes="trace=t-1")
    async with Gateway(cfg) as gw:
        reply = await gw.chat.completions.create(model="chat", messages=USER, max_tokens=6, temperature=0)
        text, stream = await stream_text(gw, max_tokens=6, temperature=0)
    assert reply.text() and text == reply.text()
    # The prompt was rendered with the model's own template: the container counted as many
    # prompt tokens as the engine's own chat rendering has.
    prompt_tokens = len(tiny_engine.render_chat(USER))
    assert reply.usage is not None and reply.usage.prompt_tokens == prompt_tokens
    assert 1 <= reply.usage.completion_tokens <= 6
    assert reply.gateway is not None and not reply.gateway.cost.estimated and reply.gateway.cost.total > 0
    assert stream.usage is not None and stream.usage.prompt_tokens == prompt_tokens
    assert stream.gateway is not None and not stream.gateway.cost.estimated
    paths = [seen.path for seen in fake.seen]
    assert paths == [
        "/endpoints/my-endpoint/invocations",
        "/endpoints/my-endpoint/invocations-response-stream",
    ]
    assert all(seen.headers["x-amzn-sagemaker-custom-attributes"] == "trace=t-1" for seen in fake.seen)


async def test_messages_plain_and_streamed(fake: FakeRuntime) -> None:
    async with Gateway(config(fake, format="messages")) as gw:
        reply = await gw.chat.completions.create(model="chat", messages=USER, max_tokens=5, temperature=0)
        text, stream = await stream_text(gw, max_tokens=5, temperature=0)
    assert reply.text() and text == reply.text()
    assert reply.usage is not None and reply.usage.completion_tokens <= 5
    assert reply.gateway is not None and not reply.gateway.cost.estimated
    assert stream.usage is not None
    assert (stream.usage.prompt_tokens, stream.usage.completion_tokens) == (
        reply.usage.prompt_tokens,
        reply.usage.completion_tokens,
    )


async def test_frames_split_across_writes_and_lines_across_parts(
    fake: FakeRuntime, tiny_tokenizer: str
) -> None:
    async with Gateway(config(fake, format="tgi", tokenizer=tiny_tokenizer)) as gw:
        whole, _ = await stream_text(gw, max_tokens=5, temperature=0)
        fake.faults.split_writes = 16  # every frame arrives in 16-byte pieces
        fake.faults.part_bytes = 64  # every SSE line spans several PayloadParts
        split, stream = await stream_text(gw, max_tokens=5, temperature=0)
    assert split == whole and whole
    assert stream.gateway is not None and not stream.gateway.cost.estimated


@pytest.mark.parametrize("where", ["prelude", "message"])
async def test_corrupted_checksum(fake: FakeRuntime, where: str) -> None:
    async with Gateway(config(fake, max_rounds=1)) as gw:
        fake.faults.corrupt, fake.faults.corrupt_at = where, 2
        with pytest.raises(StreamInterruptedError, match="ChecksumMismatch") as caught:
            await stream_text(gw, max_tokens=8, temperature=0)
        assert caught.value.chunks_received >= 1
        fake.faults.corrupt_at = 0  # before anything reached the caller: a retryable error
        with pytest.raises(UpstreamServerError, match="ChecksumMismatch"):
            await stream_text(gw, max_tokens=8, temperature=0)


async def test_model_stream_error_mid_stream(fake: FakeRuntime) -> None:
    fake.faults.stream_error, fake.faults.stream_error_at = "ModelStreamError", 2
    async with Gateway(config(fake, max_rounds=1)) as gw:
        with pytest.raises(StreamInterruptedError, match="ModelInvocationTimeExceeded"):
            await stream_text(gw, max_tokens=8, temperature=0)


async def test_wrong_secret_is_rejected_by_the_signature_check(fake: FakeRuntime) -> None:
    async with Gateway(config(fake, secret_access_key="not-the-secret")) as gw:
        with pytest.raises(AuthenticationError, match="InvalidSignatureException"):
            await gw.chat.completions.create(model="chat", messages=USER, max_tokens=2)
    assert len(fake.seen) == 1  # not retried


@pytest.mark.parametrize("name", sorted(ERROR_SHAPES))
async def test_error_shapes_retried_by_the_gateway_when_retryable(fake: FakeRuntime, name: str) -> None:
    fake.faults.errors = [name]
    async with Gateway(config(fake)) as gw:
        if name in RETRYABLE:
            text, stream = await stream_text(gw, max_tokens=3, temperature=0)
            assert text and stream.gateway is not None and len(stream.gateway.attempts) == 2
        else:
            with pytest.raises(e.GatewayError) as caught:
                await stream_text(gw, max_tokens=3, temperature=0)
            assert not caught.value.retryable
    assert len(fake.seen) == (2 if name in RETRYABLE else 1)


async def test_container_error_arrives_as_model_error(fake: FakeRuntime, tiny_tokenizer: str) -> None:
    cfg = config(fake, format="tgi", tokenizer=tiny_tokenizer, parameters={"no_such_parameter": 1})
    async with Gateway(cfg) as gw:
        with pytest.raises(BadRequestError, match=r"answered HTTP 400.*unknown TGI parameters") as caught:
            await gw.chat.completions.create(model="chat", messages=USER, max_tokens=2)
    assert caught.value.code == "ModelError" and "log-group" in caught.value.message


async def test_raw_passthrough(fake: FakeRuntime) -> None:
    async with Gateway(config(fake, format="raw")) as gw:
        reply = await gw.chat.completions.create(
            model="chat",
            messages=USER,
            extra_body={
                "inputs": "The capital of France is",
                "parameters": {"max_new_tokens": 3, "details": True},
            },
        )
    answer = reply.model_extra["raw_response"] if reply.model_extra else None
    assert isinstance(answer, list) and answer[0]["details"]["generated_tokens"] == 3
    assert reply.gateway is not None and reply.gateway.cost.estimated  # raw carries no usage


async def test_closing_the_stream_cancels_the_generation(
    fake: FakeRuntime, tiny_service: LocalService
) -> None:
    service = tiny_service
    async with Gateway(config(fake)) as gw:
        stream = await gw.chat.completions.create(model="chat", messages=USER, max_tokens=5000, stream=True)
        async for _ in stream:
            break
        await stream.aclose()
        deadline = time.monotonic() + 10
        while service.scheduler.stats.cancelled < 1 or service.scheduler.stats.active:
            assert time.monotonic() < deadline, "the backend kept generating for a closed stream"
            await asyncio.sleep(0.02)


async def test_example_runs_against_the_fake(fake: FakeRuntime) -> None:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    env.update(
        AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull
    )
    env.pop("AWS_PROFILE", None)
    script = str(ROOT / "examples" / "sagemaker_chat.py")
    arguments = [
        "--endpoint-name",
        "my-endpoint",
        "--region",
        REGION,
        "--endpoint-url",
        fake.url,
        "--max-tokens",
        "4",
    ]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        script,
        *arguments,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    text = out.decode()
    assert "plain: " in text and "streamed: " in text
    # Each call's line: deployment, latency, exact token counts and cost (not marked estimated).
    assert len(re.findall(r"\[sagemaker-my-endpoint, \d+ ms.*, \d+\+\d+ tokens, [\d.]+ USD\]", text)) == 2
    assert "estimated" not in text


@pytest.mark.model
async def test_bundled_smollm2_through_tgi_with_its_gguf_tokenizer(bundled_engine: LocalEngine) -> None:
    """The real bundled model behind the fake runtime, its chat rendered by the provider with
    the template read from the same GGUF file."""
    from local_backend.model_source import bundled_chat_gguf

    scheduler = BatchScheduler(bundled_engine, max_batch=4, max_queue=8)
    service = LocalService(bundled_engine, scheduler, model_id="bundled", default_max_tokens=32)
    # Each piece is closed however a later one fails to start, in the reverse order of starting.
    async with AsyncExitStack() as running:
        running.push_async_callback(service.aclose)  # stops the scheduler (nothing to do if not started)
        await scheduler.start(warmup=False)
        url = await running.enter_async_context(serving(create_app(service=service)))
        runtime = FakeRuntime(container_url=url)
        running.push_async_callback(runtime.close)  # safe after a start that failed half-way
        await runtime.start()
        async with Gateway(config(runtime, format="tgi", tokenizer=str(bundled_chat_gguf()))) as gw:
            reply = await gw.chat.completions.create(
                model="chat", messages=USER, max_tokens=12, temperature=0
            )
            text, stream = await stream_text(gw, max_tokens=12, temperature=0)
        assert "Paris" in reply.text() and text == reply.text()
        assert reply.usage is not None and reply.usage.prompt_tokens == len(service.engine.render_chat(USER))
        assert stream.gateway is not None and not stream.gateway.cost.estimated
