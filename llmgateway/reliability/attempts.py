"""One pass over the ranked deployments: try them in order until one answers.

A failure another deployment may not share (``GatewayError.fallback``: connection, timeout, 429,
5xx, an upstream's 401/403/404, a missing capability, a too-small context window) moves on to the
next deployment; any other error is the caller's to fix and is raised at once.

With hedging, a try that outlives its deployment's hedge delay (its p95 latency by default) gets a
copy started on the next deployment; the first answer wins and the others are cancelled.

Every try is recorded as an Attempt, and fed to the deployment's live stats and breaker. A success
is only half-recorded here (breaker, attempt): the caller records latency and tokens in the stats
when the call is really over, which for a stream is its end, not its first token.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from llmgateway.errors import BadRequestError, GatewayError, UpstreamServerError
from llmgateway.routing.deployment import Deployment
from llmgateway.types import Attempt

if TYPE_CHECKING:
    from llmgateway.limits.base import Reservation

T = TypeVar("T")
Discard = Callable[[T], Awaitable[None]]


class AttemptLog:
    """Every try of one routed call, across rounds; and the hedged copies that lost."""

    __slots__ = (
        "abandoned",
        "attempts",
        "excluded",
        "not_before",
        "reservations",
        "round_errors",
        "tokens",
        "wait_ms",
    )

    def __init__(self, tokens: int = 0) -> None:
        # The call's estimated tokens (prompt + output cap), charged to token-rate limits.
        self.tokens = tokens
        # Every try's token-rate charge, in order: settled when the call is over (see charges).
        self.reservations: list[tuple[Deployment, Reservation]] = []
        self.attempts: list[Attempt] = []
        self.abandoned: list[Deployment] = []
        self.wait_ms = 0.0  # backoff slept before the round in progress
        self.round_errors: list[GatewayError] = []  # of the round in progress
        # Deployments not worth another pass in this call (e.g. an upstream 401), and the
        # earliest time each deployment that sent Retry-After wants to see us again.
        self.excluded: set[str] = set()
        self.not_before: dict[str, float] = {}

    def next_pass(self, ranked: list[Deployment]) -> list[Deployment]:
        """The ranking for another pass: without excluded deployments, and with those still inside
        their Retry-After moved behind the rest."""
        now = time.monotonic()
        kept = [d for d in ranked if d.name not in self.excluded]
        ready = [d for d in kept if self.not_before.get(d.name, 0.0) <= now]
        return ready + [d for d in kept if self.not_before.get(d.name, 0.0) > now]


@dataclass
class HedgePlan:
    delay: Callable[[Deployment], float | None]  # seconds; None: no hedge for this deployment
    max_hedges: int = 1
    # Cleanups of losers that answered after all (closing their streams) run in the background:
    # the winner's answer never waits for them. Held here so they are not garbage-collected.
    cleanups: set[asyncio.Task[None]] = field(default_factory=set)


@dataclass(slots=True)
class _Try:
    """One try in flight: when it started, and whether it holds a half-open probe slot."""

    deployment: Deployment
    started: float
    probe: bool
    hedge: bool = False


async def acquire_rate(deployment: Deployment, log: AttemptLog) -> None:
    """Wait for the deployment's request and token rate limits, at most their ``max_wait``
    seconds; over that, a RateLimitError that lets the call fall back to a sibling."""
    store = deployment.limit_store
    if store is None:
        return
    reservation = await store.acquire(f"deployment:{deployment.name}", deployment.limits, log.tokens)
    log.reservations.append((deployment, reservation))


def as_gateway_error(exc: BaseException, deployment: Deployment) -> GatewayError:
    if isinstance(exc, GatewayError):
        if exc.deployment is None:
            exc.deployment = deployment.name
        return exc
    # A provider bug must not take the caller down with it while a sibling could answer.
    return UpstreamServerError(
        f"deployment '{deployment.name}' failed unexpectedly: {type(exc).__name__}: {exc}",
        deployment=deployment.name,
    )


def counts_against(error: GatewayError) -> bool:
    """Whether an error is the deployment's trouble (stats, breaker) rather than the request's."""
    return error.fallback and not isinstance(error, BadRequestError)


def _begin(deployment: Deployment, hedge: bool = False) -> _Try:
    deployment.stats.started()
    probe = deployment.breaker.on_start()
    return _Try(deployment, time.perf_counter(), probe, hedge)


def _failed(t: _Try, error: GatewayError, log: AttemptLog) -> None:
    d, hedge = t.deployment, t.hedge
    elapsed = time.perf_counter() - t.started
    against = counts_against(error)
    d.stats.finished(elapsed, failed=against)
    if against:
        d.breaker.on_result(failed=True, latency=elapsed, now=time.monotonic(), probe=t.probe)
    else:  # the request's own fault says nothing about the deployment
        d.breaker.on_abandoned(probe=t.probe)
    log.round_errors.append(error)
    if not error.retryable:
        log.excluded.add(d.name)
    retry_after = getattr(error, "retry_after", None)
    if retry_after:
        log.not_before[d.name] = time.monotonic() + retry_after
    log.attempts.append(
        Attempt(
            deployment=d.name,
            outcome="error",
            error=f"{type(error).__name__}: {error.message}",
            status_code=error.status_code,
            latency_ms=elapsed * 1000.0,
            wait_ms=log.wait_ms,
            hedge=hedge,
        )
    )


def _succeeded(t: _Try, log: AttemptLog) -> None:
    d, hedge = t.deployment, t.hedge
    elapsed = time.perf_counter() - t.started
    d.breaker.on_result(failed=False, latency=elapsed, now=time.monotonic(), probe=t.probe)
    log.attempts.append(
        Attempt(
            deployment=d.name,
            outcome="ok",
            error=None,
            status_code=None,
            latency_ms=elapsed * 1000.0,
            wait_ms=log.wait_ms,
            hedge=hedge,
        )
    )


def _cancelled(t: _Try, log: AttemptLog, why: str) -> None:
    d, hedge = t.deployment, t.hedge
    d.stats.abandoned()
    d.breaker.on_abandoned(probe=t.probe)
    log.abandoned.append(d)
    elapsed_ms = (time.perf_counter() - t.started) * 1000.0
    log.attempts.append(
        Attempt(
            deployment=d.name,
            outcome="cancelled",
            error=why,
            latency_ms=elapsed_ms,
            wait_ms=log.wait_ms,
            hedge=hedge,
        )
    )


def _raise(error: GatewayError, raw: BaseException, log: AttemptLog) -> None:
    error.attempts = log.attempts
    if error is raw:
        raise error
    raise error from raw


async def run_round(
    ranked: list[Deployment],
    call: Callable[[Deployment], Awaitable[T]],
    log: AttemptLog,
    hedging: HedgePlan | None = None,
    discard: Discard[T] | None = None,
) -> tuple[T, Deployment]:
    log.round_errors = []
    if hedging is not None and len(ranked) > 1:
        return await _hedged_round(ranked, call, log, hedging, discard)
    for index, deployment in enumerate(ranked):
        current = _begin(deployment)
        try:
            if deployment.limit_store is not None:
                await acquire_rate(deployment, log)
            result = await call(deployment)
        except Exception as raw:
            error = as_gateway_error(raw, deployment)
            _failed(current, error, log)
            if not error.fallback or index == len(ranked) - 1:
                _raise(error, raw, log)
            continue
        except BaseException:  # cancelled by our caller: the try neither failed nor answered
            _cancelled(current, log, why="cancelled by the caller")
            raise
        _succeeded(current, log)
        return result, deployment
    raise AssertionError("ranked is never empty")  # the router raises before that


async def _attempt(deployment: Deployment, call: Callable[[Deployment], Awaitable[T]], log: AttemptLog) -> T:
    await acquire_rate(deployment, log)
    return await call(deployment)


async def _hedged_round(
    ranked: list[Deployment],
    call: Callable[[Deployment], Awaitable[T]],
    log: AttemptLog,
    plan: HedgePlan,
    discard: Discard[T] | None,
) -> tuple[T, Deployment]:
    waiting = deque(ranked)
    running: dict[asyncio.Future[T], _Try] = {}
    newest: _Try | None = None
    last: tuple[GatewayError, BaseException] | None = None

    def launch(hedge: bool) -> None:
        nonlocal newest
        current = _begin(waiting.popleft(), hedge)
        task = asyncio.ensure_future(_attempt(current.deployment, call, log))
        running[task] = newest = current

    launch(hedge=False)
    try:
        while running:
            timeout = None
            # The budget is copies running beside the first, not copies ever started: a hedge
            # that failed fast frees its place for the next one.
            if waiting and len(running) - 1 < plan.max_hedges and newest is not None:
                delay = plan.delay(newest.deployment)
                if delay is not None:
                    timeout = max(0.0, newest.started + delay - time.perf_counter())
            done, _ = await asyncio.wait(running, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if not done:
                launch(hedge=True)
                continue
            winner: tuple[T, Deployment] | None = None
            fatal: tuple[GatewayError, BaseException] | None = None
            for task in done:
                current = running.pop(task)
                raw = task.exception()
                if raw is None:
                    if winner is None:
                        _succeeded(current, log)
                        winner = (task.result(), current.deployment)
                    else:  # two answered at once: keep one, release the other
                        _cancelled(current, log, "answered second")
                        _release(task, plan, discard)
                    continue
                error = as_gateway_error(raw, current.deployment)
                _failed(current, error, log)
                if not error.fallback:
                    fatal = fatal or (error, raw)
                last = (error, raw)
            if winner is not None:
                return winner  # an answer in hand beats an error that landed in the same tick
            if fatal is not None:
                _raise(*fatal, log)
            if waiting and (not running or len(running) - 1 < plan.max_hedges):
                # A failed try is replaced at once, even while a stalled one is still running:
                # waiting out the stall would wait for nothing.
                launch(hedge=bool(running))
        assert last is not None
        _raise(*last, log)
        raise AssertionError("unreachable")
    finally:
        _abandon_all(running, log, plan, discard)


def _abandon_all(
    running: dict[asyncio.Future[T], _Try], log: AttemptLog, plan: HedgePlan, discard: Discard[T] | None
) -> None:
    """Cancel the tries still running (the race is decided, or our caller gave up). Their
    bookkeeping is settled now; their cleanup runs on its own, without holding the answer."""
    for task, current in running.items():
        task.cancel()
        _cancelled(current, log, "lost the race")
        _release(task, plan, discard)
    running.clear()


def _release(task: asyncio.Future[T], plan: HedgePlan, discard: Discard[T] | None) -> None:
    """Once ``task`` is over, close what it produced if it answered after all."""

    def done(finished: asyncio.Future[T]) -> None:
        if discard is None or finished.cancelled() or finished.exception() is not None:
            return
        cleanup = asyncio.ensure_future(discard(finished.result()))
        plan.cleanups.add(cleanup)
        cleanup.add_done_callback(plan.cleanups.discard)

    if task.done():
        done(task)
    else:
        task.add_done_callback(done)
