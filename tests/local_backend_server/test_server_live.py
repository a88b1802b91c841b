"""The backend server under uvicorn on localhost: disconnects, a full queue, the openai client,
and the ``local`` provider in both modes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import pytest

from llmgateway import Gateway, RateLimitError
from local_backend.engine import LocalEngine
from local_backend.scheduler import BatchScheduler
from local_backend.server import create_app
from local_backend.service import LocalService
from providers.local import LocalProvider
from tests.asgi_server import serving

pytestmark = pytest.mark.integration
MESSAGES = [{"role": "user", "content": "Tell me a long story"}]


@pytest.fixture
async def live_url(tiny_service: LocalService) -> AsyncIterator[str]:
    async with serving(create_app(service=tiny_service)) as url:
        yield url


async def wait_until(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def test_client_disconnect_frees_its_batch_slot(tiny_service: LocalService, live_url: str) -> None:
    stats = lambda: tiny_service.scheduler.stats  # noqa: E731
    body = {"model": "tiny", "messages": MESSAGES, "max_tokens": 10_000, "stream": True}
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as client:
        async with client.stream("POST", "/v1/chat/completions", json=body) as response:
            lines = response.aiter_lines()
            for _ in range(4):
                await lines.__anext__()
            await wait_until(lambda: stats().active == 1)
        # Leaving the block closed the connection mid-stream.
    await wait_until(lambda: stats().active == 0 and stats().cancelled >= 1)
    # The freed slot serves the next request at once.
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as client:
        answer = await client.post(
            "/v1/chat/completions", json={"model": "tiny", "messages": MESSAGES, "max_tokens": 3}
        )
    assert answer.status_code == 200


async def test_full_queue_answers_429_with_retry_after(tiny_engine: LocalEngine) -> None:
    scheduler = BatchScheduler(tiny_engine, max_batch=1, max_queue=0)
    await scheduler.start(warmup=False)
    service = LocalService(tiny_engine, scheduler, model_id="tiny")
    server = AsyncExitStack()
    url = await server.enter_async_context(serving(create_app(service=service)))
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            long = {"model": "tiny", "messages": MESSAGES, "max_tokens": 10_000, "stream": True}
            async with client.stream("POST", "/v1/chat/completions", json=long) as held:
                lines = held.aiter_lines()  # kept referenced: a collected iterator closes the stream
                await lines.__anext__()
                await wait_until(lambda: scheduler.stats.active == 1)
                busy = await client.post("/v1/chat/completions", json={"model": "tiny", "messages": MESSAGES})
                assert busy.status_code == 429
                assert float(busy.headers["retry-after"]) >= 1
                assert busy.json()["error"]["type"] == "rate_limit_error"
                # Through the gateway the same 429 is a typed, retryable error. One round: a retry
                # after Retry-After could find the held stream done and succeed.
                config = {
                    "models": {
                        "m": {
                            "routing": {"retry": {"max_rounds": 1}},
                            "deployments": [
                                {"provider": "local", "settings": {"mode": "http", "base_url": f"{url}/v1"}}
                            ]
                        }
                    }
                }
                async with Gateway(config) as gw:
                    with pytest.raises(RateLimitError) as caught:
                        await gw.chat.completions.create(model="m", messages=MESSAGES)
                    assert caught.value.retry_after is not None
    finally:
        await server.aclose()
        await service.aclose()


async def test_openai_client_works_unmodified(live_url: str) -> None:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=f"{live_url}/v1", api_key="unused")
    reply = await client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=5, temperature=0)  # type: ignore[arg-type]
    assert reply.usage is not None and reply.usage.completion_tokens == 5
    stream = await client.chat.completions.create(
        model="tiny",
        messages=MESSAGES,
        max_tokens=5,
        temperature=0,
        stream=True,  # type: ignore[arg-type]
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == reply.choices[0].message.content
    await client.close()


async def test_local_provider_in_process_and_over_http(tiny_service: LocalService, live_url: str) -> None:
    in_process = LocalProvider.from_service("in-proc", tiny_service)
    config = {
        "models": {
            "http": {
                "deployments": [
                    {
                        "name": "over-http",
                        "provider": "local",
                        "settings": {"mode": "http", "base_url": f"{live_url}/v1"},
                    }
                ]
            }
        }
    }
    async with Gateway(config) as over_http:
        remote = await over_http.chat.completions.create(
            model="http", messages=MESSAGES, max_tokens=6, temperature=0
        )
    gw = Gateway(models={"inproc": in_process})
    local = await gw.chat.completions.create(model="inproc", messages=MESSAGES, max_tokens=6, temperature=0)
    assert local.text() == remote.text()
    assert (
        local.usage is not None
        and local.usage.compute_seconds is not None
        and local.usage.compute_seconds > 0
    )
    stream = await gw.chat.completions.create(
        model="inproc", messages=MESSAGES, max_tokens=6, temperature=0, stream=True
    )
    streamed = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert streamed == local.text()
    assert stream.gateway is not None and stream.gateway.cost.estimated is False
    await gw.aclose()
    assert tiny_service.scheduler.stats.running  # a wrapped service stays with its owner


async def test_local_provider_loads_its_own_engine_once() -> None:
    config = {
        "models": {
            "m": {
                "deployments": [
                    {
                        "provider": "local",
                        "settings": {"model": "tiny", "device": "cpu", "default_max_tokens": 4},
                    }
                ]
            }
        }
    }
    async with Gateway(config) as gw:
        replies = await asyncio.gather(
            *(gw.chat.completions.create(model="m", messages=MESSAGES) for _ in range(3))
        )
        assert all(r.usage is not None and r.usage.completion_tokens == 4 for r in replies)
        provider = gw.deployments()[0].provider
        assert isinstance(provider, LocalProvider) and provider._service is not None
    assert provider._service is None  # closed with the gateway
