"""The calls of a comparison run: every (model, item) pair streamed through the gateway and
measured the same way, at most ``concurrency`` at a time, in an order that favours no model.

A failed call is a record with ``ok=False`` and the error's type and message, never an exception.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from llmgateway.compare.records import CallRecord, SuiteItem

if TYPE_CHECKING:
    from llmgateway.client import Gateway
    from llmgateway.compare.progress import Progress
    from llmgateway.compare.suites import Suite
    from llmgateway.streaming import ChatStream
    from llmgateway.types import GatewayMetadata

J = TypeVar("J")
R = TypeVar("R")
logger = logging.getLogger(__name__)
# Seconds of warm-up after which the user is told that models are loading.
WARM_NOTICE_AFTER = 1.0


@dataclass(frozen=True)
class CallOptions:
    """How every call is made: ``max_tokens`` (when set) replaces each item's own limit; the
    response cache is skipped unless ``use_cache`` (a cached answer would measure nothing)."""

    temperature: float = 0.0
    max_tokens: int | None = None
    use_cache: bool = False


@dataclass(frozen=True)
class Job:
    model: str
    suite: str
    item: SuiteItem


def interleave(models: Sequence[str], suites: Sequence[Suite]) -> list[Job]:
    """Every (model, item) pair, item after item; within an item the models' order rotates by one
    from item to item, so each model goes first equally often and no model meets a queue, a warm
    cache or a busy backend more often than another because of the order."""
    jobs: list[Job] = []
    turn = 0
    for suite in suites:
        for item in suite.items:
            shift = turn % len(models)
            for model in [*models[shift:], *models[:shift]]:
                jobs.append(Job(model, suite.name, item))
            turn += 1
    return jobs


async def warm_up(gateway: Gateway, models: Sequence[str], progress: Progress) -> None:
    """Get the compared models' deployments ready (a local model loads) before the clock starts,
    so no model's first TTFT includes its loading. A deployment that cannot warm up is left to
    fail its calls, which are then recorded."""
    routes = gateway.routes()
    providers = {id(d.provider): d.provider for model in models for d in routes[model].deployments}
    warmers = [getattr(p, "warm", None) for p in providers.values()]
    warming = asyncio.ensure_future(
        asyncio.gather(*(warm() for warm in warmers if warm is not None), return_exceptions=True)
    )
    try:
        done, _ = await asyncio.wait({warming}, timeout=WARM_NOTICE_AFTER)
        if not done:
            progress.note("warming up the deployments (loading models)...")
        outcomes = await warming
    except BaseException:
        warming.cancel()
        raise
    for exc in outcomes:
        if isinstance(exc, Exception):
            logger.warning(
                "a deployment failed to warm up (%s: %s); its calls will show why", type(exc).__name__, exc
            )
        elif isinstance(exc, BaseException):
            raise exc


async def measure_call(gateway: Gateway, job: Job, options: CallOptions) -> CallRecord:
    """Stream one call and record what the caller saw: TTFT (to the first content chunk), total
    latency, output tokens and their rate after the first token, cost, retries, deployment."""
    item = job.item
    params: dict[str, Any] = {
        "temperature": options.temperature,
        "max_tokens": options.max_tokens or item.max_tokens,
    }
    started = time.perf_counter()
    first: float | None = None
    last = started
    content_chunks = 0
    parts: list[str] = []
    stream: ChatStream | None = None
    try:
        stream = await gateway.chat.completions.create(
            model=job.model,
            messages=item.messages,
            stream=True,
            cache=None if options.use_cache else "skip",
            **params,
        )
        async with stream:  # closes the upstream stream if this task is cancelled
            async for chunk in stream:
                content = chunk.choices[0].delta.content if chunk.choices else None
                if content:
                    last = time.perf_counter()
                    first = last if first is None else first
                    content_chunks += 1
                    parts.append(content)
    except Exception as exc:  # every failure becomes the call's record
        record = _record(job, started, first, "".join(parts), stream)
        record.ok = False
        record.error_type = type(exc).__name__
        record.error = str(exc) or type(exc).__name__
        if record.deployment is None:
            record.deployment = getattr(exc, "deployment", None)
        if stream is None or stream.gateway is None:
            record.retries = max(len(getattr(exc, "attempts", None) or []) - 1, 0)
        return record
    record = _record(job, started, first, "".join(parts), stream)
    if first is not None and content_chunks > 1 and last > first and record.output_tokens > 1:
        # Decode speed: the tokens after the first, over the time after the first.
        record.tokens_per_s = (record.output_tokens - 1) / (last - first)
    return record


def _record(
    job: Job, started: float, first: float | None, output: str, stream: ChatStream | None
) -> CallRecord:
    record = CallRecord(
        model=job.model,
        suite=job.suite,
        item_id=job.item.id,
        ok=True,
        latency_ms=(time.perf_counter() - started) * 1000.0,
        ttft_ms=(first - started) * 1000.0 if first is not None else None,
        output=output,
    )
    meta: GatewayMetadata | None = stream.gateway if stream is not None else None
    if stream is not None:
        record.deployment = stream.deployment
        record.cache = stream.cache
        if stream.usage is not None:
            record.output_tokens = stream.usage.completion_tokens
    if meta is not None:
        record.cost = meta.cost.total
        record.currency = meta.cost.currency
        record.cost_estimated = meta.cost.estimated
        record.retries = max(len(meta.attempts) - 1, 0)
        record.deployment = meta.deployment
        record.cache = meta.cache
    return record


async def run_bounded(
    jobs: Sequence[J],
    limit: int,
    work: Callable[[J], Awaitable[R]],
    *,
    stop: asyncio.Event | None = None,
    on_done: Callable[[R], None] | None = None,
) -> list[R]:
    """``work(job)`` for every job, at most ``limit`` at a time, started in the jobs' order.

    Returns the results of the jobs that finished, in the jobs' order. Once ``stop`` is set no
    job starts and those running are cancelled. An exception from ``work`` cancels the others
    and is raised; so is this coroutine's own cancellation, after the workers are gone."""
    results: dict[int, R] = {}
    queue = iter(enumerate(jobs))  # shared by the workers: each takes the next job when free

    async def worker() -> None:
        for index, job in queue:
            result = await work(job)
            results[index] = result
            if on_done is not None:
                on_done(result)

    workers = {asyncio.create_task(worker()) for _ in range(max(0, min(limit, len(jobs))))}
    stopper = asyncio.create_task(stop.wait()) if stop is not None else None
    running: set[asyncio.Task[Any]] = set(workers)
    try:
        while running and not (stopper is not None and stopper.done()):
            waiting = running | {stopper} if stopper is not None else running
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            for task in done & running:
                task.result()  # a bug in ``work`` surfaces here
            running -= done
    finally:
        tasks = [*workers, *([stopper] if stopper is not None else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return [results[index] for index in sorted(results)]
