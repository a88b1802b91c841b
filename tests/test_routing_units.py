"""Stats, breaker, router and backoff in isolation, on a fake clock where time matters."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from llmgateway.accounting.pricing import Pricing
from llmgateway.errors import RateLimitError, UpstreamServerError
from llmgateway.reliability.retry import pass_wait
from llmgateway.routing.breaker import BreakerConfig, BreakerState, CircuitBreaker
from llmgateway.routing.deployment import Deployment
from llmgateway.routing.route import ModelRoute, needs_chat
from llmgateway.routing.router import Router
from llmgateway.routing.settings import RetryConfig, RoutingConfig
from llmgateway.routing.stats import DeploymentStats, SlidingWindow
from providers.mock import MockProvider


def test_sliding_window_forgets_old_buckets() -> None:
    window = SlidingWindow(seconds=10, buckets=10)
    window.add(failed=True, slow=False, now=100.0)
    window.add(failed=False, slow=True, now=105.0)
    counts = window.counts(now=105.5)
    assert (counts.calls, counts.failures, counts.slow) == (2, 1, 1)
    assert window.counts(now=111.0).calls == 1  # the first bucket has left the window
    assert window.counts(now=200.0).calls == 0


def test_peak_ewma_jumps_on_spikes_and_decays_after() -> None:
    stats = DeploymentStats()
    stats.started()
    stats.finished(0.010, failed=False, now=0.0)
    stats.started()
    stats.finished(0.500, failed=False, now=1.0)
    assert stats.latency_ewma == 0.5  # a spike counts in full at once
    for second in range(2, 60):
        stats.started()
        stats.finished(0.010, failed=False, now=float(second))
    assert stats.current_latency(59.0) < 0.02  # and fades as fast calls keep coming
    stats.started()
    stats.started()
    assert stats.expected_latency(0.0, now=59.0) == pytest.approx(stats.current_latency(59.0) * 3)
    assert stats.p95() is not None and stats.in_flight == 2


def test_a_spike_fades_even_without_new_samples() -> None:
    stats = DeploymentStats()
    for second, latency in enumerate((0.01, 0.01, 0.01, 2.0)):
        stats.started()
        stats.finished(latency, failed=False, now=float(second))
    assert stats.current_latency(3.0) == 2.0
    assert stats.current_latency(60.0) < 0.5  # no traffic since, yet the stall is forgiven


def test_breaker_opens_half_opens_and_closes() -> None:
    config = BreakerConfig(failure_rate=0.5, min_calls=4, open_seconds=1.0, half_open_probes=2)
    breaker = CircuitBreaker(config, "d")
    for failed in (False, True, False, True):
        breaker.on_result(failed=failed, latency=0.01, now=10.0)
    assert breaker.state is BreakerState.OPEN and not breaker.available(10.5)
    assert breaker.available(11.1) and breaker.state is BreakerState.HALF_OPEN
    first, second = breaker.on_start(), breaker.on_start()
    assert first and second and not breaker.available(11.1)  # both probe slots are taken
    breaker.on_result(failed=False, latency=0.01, now=11.2)  # a straggler, not a probe: no verdict
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.on_result(failed=False, latency=0.01, now=11.2, probe=first)
    breaker.on_result(failed=False, latency=0.01, now=11.2, probe=second)
    assert breaker.state is BreakerState.CLOSED


def test_a_failed_probe_reopens_for_longer_and_slow_calls_count() -> None:
    breaker = CircuitBreaker(
        BreakerConfig(min_calls=2, open_seconds=1.0, slow_call_ms=100, slow_call_rate=1.0)
    )
    breaker.on_result(failed=False, latency=0.2, now=0.0)
    breaker.on_result(failed=False, latency=0.3, now=0.0)
    assert breaker.state is BreakerState.OPEN and breaker.open_until == 1.0
    assert breaker.available(1.5)
    probe = breaker.on_start()
    breaker.on_result(failed=True, latency=0.01, now=1.5, probe=probe)
    assert breaker.state is BreakerState.OPEN and breaker.open_until == pytest.approx(3.5)  # doubled


def _route(*deployments: Deployment, policy: str = "priority") -> tuple[ModelRoute, RoutingConfig]:
    config = RoutingConfig.model_validate({"policy": policy})
    return ModelRoute("m", list(deployments), config), config


def test_open_breakers_go_last_but_are_never_dropped() -> None:
    a, b = Deployment("a", MockProvider(name="a")), Deployment("b", MockProvider(name="b"))
    route, config = _route(a, b)
    a.breaker.state = BreakerState.OPEN
    a.breaker.open_until = float("inf")
    decision = Router(seed=1).decide(route, config, needs_chat, "chat", 10, 10)
    assert [d.name for d in decision.ranked] == ["b", "a"]
    b.breaker.state = BreakerState.OPEN
    b.breaker.open_until = float("inf")
    decision = Router(seed=1).decide(route, config, needs_chat, "chat", 10, 10)
    assert sorted(d.name for d in decision.ranked) == ["a", "b"]  # still something to try
    assert decision.scored[0].reason().startswith("breaker")


def test_cost_policy_orders_by_estimate() -> None:
    cheap = Deployment("cheap", MockProvider(), pricing=Pricing(input_per_million=Decimal(1)))
    dear = Deployment("dear", MockProvider(), pricing=Pricing(input_per_million=Decimal(9)))
    route, config = _route(dear, cheap, policy="cost")
    decision = Router().decide(route, config, needs_chat, "chat", 1000, 10)
    assert [d.name for d in decision.ranked] == ["cheap", "dear"]
    assert decision.info().scores[0].reason.startswith("estimated cost")


def test_backoff_honours_retry_after_only_when_every_try_asked() -> None:
    config = RetryConfig(backoff_initial=0.1, backoff_max=1.0)
    rng = random.Random(0)
    told = [RateLimitError("x", retry_after=3.0), RateLimitError("y", retry_after=2.0)]
    assert pass_wait(config, 1, told, rng) == 2.0
    mixed = [RateLimitError("x", retry_after=3.0), UpstreamServerError("y")]
    assert 0.05 <= pass_wait(config, 1, mixed, rng) <= 0.15
    assert pass_wait(config, 10, mixed, rng) <= 1.5  # capped at backoff_max (with jitter)
