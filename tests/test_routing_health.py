"""Active health checks bring a deployment back without live traffic."""

from __future__ import annotations

import asyncio
import time

from llmgateway import Gateway
from llmgateway.routing.breaker import BreakerState
from tests.payloads import USER


async def test_health_checks_close_a_breaker_without_traffic() -> None:
    config = {
        "models": {
            "m": {
                "routing": {
                    "breaker": {
                        "min_calls": 2,
                        "failure_rate": 0.5,
                        "open_seconds": 0.05,
                        "half_open_probes": 1,
                    },
                    "health_check": {"interval_seconds": 0.05},
                    "retry": {"max_rounds": 1},
                },
                "deployments": [
                    {
                        "name": "flaky",
                        "provider": "mock",
                        "settings": {"script": [{"fault": "error", "status": 503}] * 4},
                    },
                    {"name": "steady", "provider": "mock"},
                ],
            }
        }
    }
    async with Gateway(config) as gw:
        flaky = gw.deployments()[0]
        for _ in range(2):
            reply = await gw.chat.completions.create(model="m", messages=USER)
            assert reply.gateway is not None and reply.gateway.deployment == "steady"
        assert flaky.breaker.state is BreakerState.OPEN
        deadline = time.monotonic() + 5
        while flaky.breaker.state is not BreakerState.CLOSED:  # probes use up the script, then pass
            assert time.monotonic() < deadline, flaky.breaker.snapshot()
            await asyncio.sleep(0.02)
        reply = await gw.chat.completions.create(model="m", messages=USER)
        assert reply.gateway is not None and reply.gateway.deployment == "flaky"
    assert all(task.done() for task in gw._dispatcher._health_tasks) or not gw._dispatcher._health_tasks
