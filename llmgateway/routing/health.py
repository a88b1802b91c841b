"""Optional active health checks: probe deployments whose breaker is open, without waiting for
live traffic to do it. A probe is the smallest real call (one token of chat); success closes the
breaker, failure keeps it open (for longer)."""

from __future__ import annotations

import asyncio
import logging
import time

from llmgateway.errors import GatewayError
from llmgateway.reliability.attempts import counts_against
from llmgateway.routing.breaker import BreakerState
from llmgateway.routing.deployment import Deployment
from llmgateway.routing.settings import HealthCheckConfig
from llmgateway.types import ChatCompletionRequest, CompletionRequest, EmbeddingRequest

logger = logging.getLogger(__name__)


async def _smallest_call(deployment: Deployment, model: str, config: HealthCheckConfig) -> None:
    """The cheapest call the deployment supports: one chat token, else one embedding."""
    capabilities = deployment.provider.capabilities
    if capabilities.chat:
        request = ChatCompletionRequest.model_validate(
            {"model": model, "messages": [{"role": "user", "content": config.probe_message}], "max_tokens": 1}
        )
        await deployment.provider.chat(request)
    elif capabilities.embeddings:
        await deployment.provider.embeddings(EmbeddingRequest(model=model, input=config.probe_message))
    else:
        completion = CompletionRequest(model=model, prompt=config.probe_message, max_tokens=1)
        await deployment.provider.completions(completion)


async def probe(deployment: Deployment, model: str, config: HealthCheckConfig) -> bool:
    """One probe call; feeds the breaker exactly as a live probe would."""
    breaker = deployment.breaker
    breaker.open_until = min(breaker.open_until, time.monotonic())  # let this probe through
    if not breaker.available(time.monotonic()):
        return False  # enough probes are already in flight
    token = breaker.on_start()
    started = time.perf_counter()
    try:
        await asyncio.wait_for(_smallest_call(deployment, model, config), config.timeout_seconds)
    except asyncio.CancelledError:
        breaker.on_abandoned(probe=token)
        raise
    except Exception as exc:
        if isinstance(exc, GatewayError) and not counts_against(exc):
            breaker.on_abandoned(probe=token)  # e.g. unsupported: says nothing about its health
            return False
        breaker.on_result(
            failed=True, latency=time.perf_counter() - started, now=time.monotonic(), probe=token
        )
        logger.info("health check of %s failed: %s", deployment.name, exc)
        return False
    breaker.on_result(failed=False, latency=time.perf_counter() - started, now=time.monotonic(), probe=token)
    return True


async def check_forever(model: str, deployments: list[Deployment], config: HealthCheckConfig) -> None:
    """Every interval, probe each deployment whose breaker is not closed."""
    assert config.interval_seconds is not None
    while True:
        await asyncio.sleep(config.interval_seconds)
        tripped = [d for d in deployments if d.breaker.state is not BreakerState.CLOSED]
        if tripped:
            await asyncio.gather(*(probe(d, model, config) for d in tripped))
