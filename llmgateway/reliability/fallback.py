"""Try a model's deployments in turn until one answers.

A failure another deployment may not share (``GatewayError.fallback``: connection, timeout, 429,
5xx, an upstream's 401/403/404, a missing capability, a too-small context window) moves on to the
next deployment; any other error is the caller's to fix and is raised at once. Every try is
recorded as an Attempt.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from llmgateway.errors import GatewayError, RateLimitError, UpstreamServerError
from llmgateway.routing.deployment import Deployment
from llmgateway.types import Attempt

T = TypeVar("T")


async def acquire_rate(deployment: Deployment) -> None:
    """Wait for the deployment's request-rate limit, at most its ``max_wait`` seconds."""
    limiter = deployment.limiter()
    if limiter is None:
        return
    if limiter.has_capacity():
        await limiter.acquire()
        return
    try:
        await asyncio.wait_for(limiter.acquire(), deployment.limits.max_wait)
    except asyncio.TimeoutError:
        raise RateLimitError(
            f"deployment '{deployment.name}' is at its limit of {deployment.limits.rpm:g} requests/min",
            retry_after=60.0 / (deployment.limits.rpm or 1.0),
            deployment=deployment.name,
        ) from None


def _as_gateway_error(exc: Exception, deployment: Deployment) -> GatewayError:
    if isinstance(exc, GatewayError):
        if exc.deployment is None:
            exc.deployment = deployment.name
        return exc
    # A provider bug must not take the caller down with it while a sibling could answer.
    return UpstreamServerError(
        f"deployment '{deployment.name}' failed unexpectedly: {type(exc).__name__}: {exc}",
        deployment=deployment.name,
    )


async def call_with_fallback(
    candidates: list[Deployment], call: Callable[[Deployment], Awaitable[T]]
) -> tuple[T, Deployment, list[Attempt]]:
    attempts: list[Attempt] = []
    for index, deployment in enumerate(candidates):
        start = time.perf_counter()
        try:
            await acquire_rate(deployment)
            result = await call(deployment)
        except Exception as raw:
            error = _as_gateway_error(raw, deployment)
            attempts.append(
                Attempt(
                    deployment=deployment.name,
                    outcome="error",
                    error=f"{type(error).__name__}: {error.message}",
                    status_code=error.status_code,
                    latency_ms=(time.perf_counter() - start) * 1000.0,
                )
            )
            if not error.fallback or index == len(candidates) - 1:
                error.attempts = attempts
                if error is raw:
                    raise
                raise error from raw
            continue
        attempts.append(
            Attempt(
                deployment=deployment.name,
                outcome="ok",
                latency_ms=(time.perf_counter() - start) * 1000.0,
            )
        )
        return result, deployment, attempts
    raise AssertionError("candidates is never empty")  # ModelRoute.candidates guarantees it
