"""Passes over the ranked deployments until one answers, a deadline passes, or the tries run out.

The first pass runs directly (no retry machinery on the hot path). When every deployment failed
with a retryable error, later passes run under tenacity: exponential backoff with jitter between
passes, re-ranked each time (the live stats have moved), honouring Retry-After when every
deployment asked to be left alone for a while, and never sleeping past the request's deadline.
"""

from __future__ import annotations

import asyncio
import inspect
import random
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from llmgateway.errors import APITimeoutError, GatewayError
from llmgateway.reliability.attempts import AttemptLog
from llmgateway.routing.settings import RetryConfig

if TYPE_CHECKING:
    from tenacity import RetryCallState

T = TypeVar("T")
Round = Callable[[int], Awaitable[T]]  # takes the pass number (1-based)


async def _bounded(call: Awaitable[T], seconds: float, log: AttemptLog, worst: float | None) -> T:
    """One pass, cut off when the request's deadline passes (a hung try included). When every
    try of the pass is bounded by its own timeout and all of them together (``worst``) end before
    the deadline, no extra timer is needed."""
    if worst is not None and worst < seconds:
        return await call
    if seconds <= 0:
        if inspect.iscoroutine(call):
            call.close()
        raise _deadline_error(log)
    if sys.version_info >= (3, 11):
        scope = asyncio.timeout(seconds)
        try:
            async with scope:
                return await call
        except TimeoutError:
            if scope.expired():
                raise _deadline_error(log) from None
            raise
    try:
        return await asyncio.wait_for(call, seconds)
    except asyncio.TimeoutError:
        raise _deadline_error(log) from None


def _deadline_error(log: AttemptLog) -> APITimeoutError:
    error = APITimeoutError("the request's routing deadline passed before any deployment answered")
    error.attempts = log.attempts
    return error


def pass_wait(
    config: RetryConfig, failed_round: int, errors: list[GatewayError], rng: random.Random
) -> float:
    """Seconds to sleep after pass ``failed_round`` failed: exponential with jitter, or longer
    when every try of that pass was told to wait (Retry-After on all of them)."""
    backoff = min(config.backoff_max, config.backoff_initial * 2 ** (failed_round - 1))
    backoff *= 0.5 + rng.random()  # full jitter around the exponential
    told: list[float | None] = [getattr(e, "retry_after", None) for e in errors]
    waits = [t for t in told if t is not None]
    if errors and len(waits) == len(told):
        backoff = max(backoff, min(waits))
    return float(backoff)


async def with_retries(
    run_pass: Round[T],
    config: RetryConfig,
    log: AttemptLog,
    rng: random.Random,
    worst_pass: float | None = None,
) -> tuple[T, int]:
    """Run ``run_pass`` until it returns; the result and how many passes it took."""
    started = time.monotonic()

    def remaining() -> float:
        return config.deadline - (time.monotonic() - started)

    def worth_another_pass(exc: BaseException) -> bool:
        # Any retryable failure in the pass (not just the last one) makes another pass useful.
        return isinstance(exc, GatewayError) and any(e.retryable for e in log.round_errors)

    try:
        return await _bounded(run_pass(1), remaining(), log, worst_pass), 1
    except GatewayError as exc:
        if not worth_another_pass(exc) or config.max_rounds == 1:
            raise
        first_error = exc

    # Loaded only once a pass has failed: the hot path never pays for it.
    from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, stop_before_delay

    first_wait = pass_wait(config, 1, log.round_errors, rng)
    if first_wait >= remaining():
        raise first_error  # the deadline comes first: report what went wrong, not a timeout
    log.wait_ms = first_wait * 1000.0
    await asyncio.sleep(first_wait)

    def wait(state: RetryCallState) -> float:
        return pass_wait(config, state.attempt_number + 1, log.round_errors, rng)

    def before_sleep(state: RetryCallState) -> None:
        log.wait_ms = state.next_action.sleep * 1000.0 if state.next_action is not None else 0.0

    retrying = AsyncRetrying(
        stop=stop_after_attempt(config.max_rounds - 1) | stop_before_delay(max(0.0, remaining())),
        wait=wait,
        retry=retry_if_exception(worth_another_pass),
        before_sleep=before_sleep,
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            pass_number = attempt.retry_state.attempt_number + 1
            return await _bounded(run_pass(pass_number), remaining(), log, worst_pass), pass_number
    raise AssertionError("tenacity re-raises the last error")
