"""The elastic pool with real tiny-model workers, driven through the gateway's ``local``
provider: a burst makes it grow, idleness makes it shrink back."""

from __future__ import annotations

import asyncio
import time

import pytest

from llmgateway import Gateway
from providers.local import LocalProvider

pytestmark = pytest.mark.integration
MESSAGES = [{"role": "user", "content": "Count to one hundred"}]


async def test_burst_grows_the_tiny_model_pool_and_idle_shrinks_it() -> None:
    settings = {
        "mode": "replicas",
        "model": "tiny",
        "device": "cpu",
        "min_replicas": 1,
        "max_replicas": 2,
        "max_concurrency": 1,
        "target_queue_wait": 0.2,
        "idle_seconds": 2.0,
        "default_max_tokens": 200,
    }
    config = {"models": {"m": {"deployments": [{"name": "pool", "provider": "local", "settings": settings}]}}}
    async with Gateway(config) as gw:
        provider = gw.deployments()[0].provider
        assert isinstance(provider, LocalProvider)
        pool = provider.replica_pool
        assert pool is not None
        first = await gw.chat.completions.create(
            model="m", messages=MESSAGES, max_tokens=4
        )  # starts the pool
        assert first.usage is not None and first.usage.completion_tokens == 4
        assert pool.stats().ready == 1

        burst = [gw.chat.completions.create(model="m", messages=MESSAGES) for _ in range(12)]
        replies = await asyncio.wait_for(asyncio.gather(*burst), timeout=120)
        assert all(r.usage is not None and r.usage.completion_tokens > 0 for r in replies)
        ups = [e for e in pool.events if e.kind == "scale up" and e.reason.startswith("queue wait")]
        assert ups and ups[0].from_replicas == 1 and ups[0].to_replicas == 2, pool.events

        deadline = time.monotonic() + 30
        while pool.stats().ready + pool.stats().starting > 1:
            assert time.monotonic() < deadline, pool.events
            await asyncio.sleep(0.2)
        downs = [e for e in pool.events if e.kind == "scale down"]
        assert downs and downs[-1].to_replicas == 1
        again = await gw.chat.completions.create(model="m", messages=MESSAGES, max_tokens=3)
        assert again.gateway is not None and again.gateway.deployment == "pool"
    assert not pool.running
