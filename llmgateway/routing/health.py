"""Optional active health checks: probe deployments whose breaker is open, without waiting for
live traffic to do it. A probe is the smallest real call (one token of chat); success closes the
breaker, failure keeps it open (for longer)."""

from __future__ import annotations

import asyncio
import logging
import time

from llmgateway.routing.breaker import BreakerState
from llmgateway.routing.deployment import Deployment
from llmgateway.routing.settings import HealthCheckConfig
from llmgateway.types import ChatCompletionRequest

logger = logging.getLogger(__name__)


async def probe(deployment: Deployment, model: str, config: HealthCheckConfig) -> bool:
    """One probe call; feeds the breaker exactly as a live probe would."""
    request = ChatCompletionRequest.model_validate(
        {"model": model, "messages": [{"role": "user", "content": config.probe_message}], "max_tokens": 1}
    )
    breaker = deployment.breaker
    breaker.open_until = min(breaker.open_until, time.monotonic())  # let this probe through
    if not breaker.available(time.monotonic()):
        return False  # enough probes are already in flight
    breaker.on_start()
    started = time.perf_counter()
    try:
        await asyncio.wait_for(deployment.provider.chat(request), config.timeout_seconds)
    except Exception as exc:
        breaker.on_result(failed=True, latency=time.perf_counter() - started, now=time.monotonic())
        logger.info("health check of %s failed: %s", deployment.name, exc)
        return False
    breaker.on_result(failed=False, latency=time.perf_counter() - started, now=time.monotonic())
    return True


async def check_forever(model: str, deployments: list[Deployment], config: HealthCheckConfig) -> None:
    """Every interval, probe each deployment whose breaker is not closed."""
    assert config.interval_seconds is not None
    while True:
        await asyncio.sleep(config.interval_seconds)
        tripped = [d for d in deployments if d.breaker.state is not BreakerState.CLOSED]
        if tripped:
            await asyncio.gather(*(probe(d, model, config) for d in tripped))
