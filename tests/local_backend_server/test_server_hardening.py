"""Inputs that once broke the backend: degenerate temperatures, deep JSON, huge bodies, streams
that fail at once, and in-process deadlines."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from llmgateway import APITimeoutError, Gateway
from local_backend.http_errors import MAX_BODY_BYTES
from local_backend.server import create_app
from local_backend.service import LocalService
from providers.local import LocalProvider

MESSAGES = [{"role": "user", "content": "Hello"}]


@pytest.fixture
async def client(tiny_service: LocalService) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(service=tiny_service))
    async with httpx.AsyncClient(transport=transport, base_url="http://backend") as c:
        yield c


async def test_a_degenerate_temperature_cannot_fail_its_batch(client: httpx.AsyncClient) -> None:
    def body(temperature: float) -> dict[str, object]:
        return {"model": "t", "messages": MESSAGES, "max_tokens": 8, "temperature": temperature}

    answers = await asyncio.gather(
        client.post("/v1/chat/completions", json=body(1e-40)),
        client.post("/v1/chat/completions", json=body(0)),
    )
    assert [a.status_code for a in answers] == [200, 200]
    # Below the sampling floor it decodes greedily: the same text as temperature 0.
    texts = [a.json()["choices"][0]["message"]["content"] for a in answers]
    assert texts[0] == texts[1]


async def test_deep_json_and_huge_bodies_are_4xx(client: httpx.AsyncClient) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    answer = await client.post("/v1/chat/completions", content=deep)
    assert answer.status_code == 400 and "nests JSON too deeply" in answer.json()["error"]["message"]
    huge = b"x" * (MAX_BODY_BYTES + 1)
    answer = await client.post("/v1/chat/completions", content=huge)
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "body_too_large"


async def test_streams_that_fail_at_once_get_their_own_status(client: httpx.AsyncClient) -> None:
    long_prompt = "word " * 5000
    tgi = await client.post("/invocations", json={"inputs": long_prompt, "stream": True})
    assert tgi.status_code == 400 and tgi.json()["error"]["code"] == "context_length_exceeded"
    chat = await client.post(
        "/v1/chat/completions",
        json={"model": "t", "stream": True, "messages": [{"role": "user", "content": long_prompt}]},
    )
    assert chat.status_code == 400


async def test_in_process_calls_honour_the_deadline(tiny_service: LocalService) -> None:
    gw = Gateway(models={"m": LocalProvider.from_service("inproc", tiny_service)})
    with pytest.raises(APITimeoutError, match="no answer within"):
        await gw.chat.completions.create(model="m", messages=MESSAGES, max_tokens=900, timeout=0.001)
    # The abandoned request left the batch: the scheduler is idle again.
    for _ in range(200):
        if tiny_service.scheduler.stats.active == 0:
            break
        await asyncio.sleep(0.01)
    assert tiny_service.scheduler.stats.active == 0
