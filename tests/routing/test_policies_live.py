"""Routing policies, the breaker, hedging and Retry-After, end to end over mock deployments."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import pytest

from llmgateway import Gateway
from llmgateway.errors import BadRequestError, ContextWindowExceededError
from llmgateway.routing.breaker import BreakerState
from llmgateway.routing.deployment import Deployment
from llmgateway.types import GatewayMetadata

MESSAGES = [{"role": "user", "content": "which way"}]
ERROR = {"fault": "error", "status": 503}


def mock(name: str, **settings: Any) -> dict[str, Any]:
    extra: dict[str, Any] = {
        k: settings.pop(k) for k in ("pricing", "weight", "context_window") if k in settings
    }
    return {"name": name, "provider": "mock", "settings": settings, **extra}


def priced(name: str, input_price: str, output_price: str, **settings: Any) -> dict[str, Any]:
    pricing = {"input_per_million": input_price, "output_per_million": output_price}
    return mock(name, pricing=pricing, **settings)


def gateway(deployments: list[dict[str, Any]], **routing: Any) -> Gateway:
    return Gateway({"models": {"m": {"routing": routing, "deployments": deployments}}})


def by_name(gw: Gateway) -> dict[str, Deployment]:
    return {d.name: d for d in gw.deployments()}


def state(deployment: Deployment) -> BreakerState:
    return deployment.breaker.state


def calls_to(deployment: Deployment) -> int:
    return len(deployment.provider.calls)  # type: ignore[attr-defined]


async def ask(gw: Gateway, **kwargs: Any) -> GatewayMetadata:
    reply = await gw.chat.completions.create(model="m", messages=MESSAGES, **kwargs)
    meta: GatewayMetadata | None = reply.gateway
    assert meta is not None
    return meta


async def served_by(gw: Gateway, calls: int, **kwargs: Any) -> Counter[str]:
    return Counter([(await ask(gw, **kwargs)).deployment for _ in range(calls)])


# (a) -----------------------------------------------------------------------------------------


async def test_a_down_deployment_is_ejected_and_comes_back_through_half_open_probes() -> None:
    breaker = {"failure_rate": 0.5, "min_calls": 4, "open_seconds": 0.2, "half_open_probes": 2}
    # "flaky" is down for its first five calls, then healthy; priority sends it traffic first.
    gw = gateway([mock("flaky", script=[ERROR] * 5), mock("steady")], policy="priority", breaker=breaker)
    d = by_name(gw)
    flaky, steady = d["flaky"], d["steady"]
    for _ in range(4):  # each call fails on flaky and falls back to steady: the caller sees none
        assert (await ask(gw)).deployment == "steady"
    assert state(flaky) is BreakerState.OPEN
    # Ejected: while open, traffic moves away and flaky is not even tried.
    before = calls_to(flaky)
    for _ in range(5):
        meta = await ask(gw)
        assert meta.deployment == "steady" and [a.deployment for a in meta.attempts] == ["steady"]
        assert meta.routing is not None and meta.routing.scores[-1].reason == "breaker open"
    assert calls_to(flaky) == before
    # After open_seconds a probe goes to flaky; it fails (its 5th error): open again, for longer.
    await asyncio.sleep(0.25)
    meta = await ask(gw)
    assert [(a.deployment, a.outcome) for a in meta.attempts] == [("flaky", "error"), ("steady", "ok")]
    assert state(flaky) is BreakerState.OPEN
    assert flaky.breaker.open_until - time.monotonic() > 0.25  # doubled: 0.4 s
    await asyncio.sleep(0.45)
    # Two good probes close it, and flaky gets its traffic back.
    for _ in range(2):
        assert (await ask(gw)).deployment == "flaky"
    assert state(flaky) is BreakerState.CLOSED
    assert await served_by(gw, 5) == Counter({"flaky": 5})
    assert steady.breaker.state is BreakerState.CLOSED


# (b) -----------------------------------------------------------------------------------------


async def test_b_slow_deployment_stops_receiving_traffic_under_latency() -> None:
    gw = gateway(
        [mock("fast-1", latency_ms=10), mock("slow", latency_ms=200), mock("fast-2", latency_ms=10)],
        policy="latency",
    )
    d = by_name(gw)
    warm = 0
    while min(x.stats.samples for x in d.values()) == 0 and warm < 20:  # unknown ones get explored
        await ask(gw)
        warm += 1
    assert d["slow"].stats.samples > 0 and warm < 10
    counts = await served_by(gw, 50)
    assert counts["slow"] <= 3, counts
    assert counts["fast-1"] + counts["fast-2"] >= 47


# (c) -----------------------------------------------------------------------------------------


def three_prices(**cheap_settings: Any) -> list[dict[str, Any]]:
    # With max_tokens=1000 and a ~6-token prompt: ~0.001, ~0.005 and ~0.05 per call.
    return [
        priced("pricey", "10", "50"),
        priced("cheap", "1", "1", **cheap_settings),
        priced("mid", "2", "5"),
    ]


async def test_c_cost_picks_the_cheapest_healthy_deployment() -> None:
    breaker = {"failure_rate": 0.5, "min_calls": 2, "open_seconds": 60}
    gw = gateway(three_prices(script=[ERROR], repeat=True), policy="cost", breaker=breaker)
    meta = await ask(gw, max_tokens=1000)
    assert meta.routing is not None
    assert [s.deployment for s in meta.routing.scores] == ["cheap", "mid", "pricey"]
    assert [(a.deployment, a.outcome) for a in meta.attempts] == [("cheap", "error"), ("mid", "ok")]
    await ask(gw, max_tokens=1000)
    assert state(by_name(gw)["cheap"]) is BreakerState.OPEN
    # Cheapest failing (breaker open): the next cheapest serves, without trying the cheapest.
    for _ in range(5):
        meta = await ask(gw, max_tokens=1000)
        assert meta.deployment == "mid" and [a.deployment for a in meta.attempts] == ["mid"]


async def test_c_cost_always_cheapest_when_all_are_healthy() -> None:
    gw = gateway(three_prices(), policy="cost")
    assert await served_by(gw, 20, max_tokens=1000) == Counter({"cheap": 20})


async def test_c_max_cost_per_request_excludes_expensive_deployments() -> None:
    # "pricey" fails every call: were it eligible, fallback would reach it.
    deployments = [priced("pricey", "10", "50"), priced("cheap", "1", "1"), priced("mid", "2", "5")]
    gw = gateway(deployments, policy="latency", constraints={"max_cost_per_request": "0.01"})
    for _ in range(10):
        meta = await ask(gw, max_tokens=1000)
        assert meta.routing is not None
        assert {s.deployment for s in meta.routing.scores} == {"cheap", "mid"}
    # A per-request limit tightens it further.
    meta = await ask(gw, max_tokens=1000, routing={"max_cost_per_request": "0.002"})
    assert meta.routing is not None and [s.deployment for s in meta.routing.scores] == ["cheap"]


async def test_c_cost_limit_below_the_cheapest_estimate_is_a_bad_request() -> None:
    gw = gateway(three_prices(), policy="cost")
    with pytest.raises(BadRequestError) as caught:
        await ask(gw, max_tokens=1000, routing={"max_cost_per_request": "0.0001"})
    assert caught.value.code == "cost_constraint"
    assert "cheapest estimate" in caught.value.message
    assert all(calls_to(d) == 0 for d in gw.deployments())


# (d) -----------------------------------------------------------------------------------------


async def test_d_weighted_splits_traffic_by_weight() -> None:
    gw = gateway([mock("light", weight=1), mock("heavy", weight=3)], policy="weighted")
    counts = await served_by(gw, 600)
    share = counts["heavy"] / 600
    assert 0.68 <= share <= 0.82, counts  # expected 0.75; 600 draws: sd ~ 0.018


# (e) -----------------------------------------------------------------------------------------


async def test_e_reliability_prefers_the_lower_error_rate() -> None:
    never_open = {"min_calls": 1000}
    gw = gateway(
        [mock("shaky", fault_rate=0.5, faults=[ERROR], seed=7), mock("solid")],
        policy="reliability",
        breaker=never_open,
    )
    # Warm-up in config order (shaky first): it fails about half the time, solid never.
    await served_by(gw, 20, routing={"policy": "priority"})
    d = by_name(gw)
    assert d["shaky"].stats.error_rate() > 0.2 and d["solid"].stats.error_rate() == 0.0
    for _ in range(20):
        meta = await ask(gw)
        assert meta.deployment == "solid" and [a.deployment for a in meta.attempts] == ["solid"]
        assert meta.routing is not None and meta.routing.scores[0].deployment == "solid"
        assert meta.routing.scores[0].score > meta.routing.scores[1].score


# (f) -----------------------------------------------------------------------------------------


async def test_f_balanced_follows_its_weights() -> None:
    gw = gateway(
        [priced("cheap-slow", "1", "1", latency_ms=60), priced("pricey-fast", "10", "10", latency_ms=5)],
        policy="balanced",
    )
    # Measure both: cheap-slow first (config order), then latency explores the unmeasured one.
    await ask(gw, routing={"policy": "priority"})
    await ask(gw, routing={"policy": "latency"})
    d = by_name(gw)
    assert all(x.stats.samples for x in d.values())
    by_cost = {"cost": 1.0, "latency": 0.0, "errors": 0.0}
    by_latency = {"cost": 0.0, "latency": 1.0, "errors": 0.0}
    assert await served_by(gw, 5, routing={"weights": by_cost}) == Counter({"cheap-slow": 5})
    assert await served_by(gw, 5, routing={"weights": by_latency}) == Counter({"pricey-fast": 5})
    # Cost weighed 10x latency: the 10x price difference dominates the 12x latency one.
    meta = await ask(gw, routing={"weights": {"cost": 10.0, "latency": 1.0, "errors": 1.0}})
    assert meta.deployment == "cheap-slow" and meta.routing is not None
    assert meta.routing.policy == "balanced" and "cost" in meta.routing.scores[0].reason


async def test_balanced_prefers_the_healthier_of_two_equals() -> None:
    gw = gateway(
        [mock("a", latency_ms=20, fault_rate=0.6, faults=[ERROR], seed=3), mock("b", latency_ms=20)],
        policy="balanced",
        breaker={"min_calls": 1000},
    )
    await served_by(gw, 20, routing={"policy": "priority"})
    assert await served_by(gw, 10) == Counter({"b": 10})


# (g) -----------------------------------------------------------------------------------------


async def test_g_per_request_policy_override() -> None:
    gw = gateway(three_prices(), policy="priority")
    assert (await ask(gw, max_tokens=1000)).deployment == "pricey"
    meta = await ask(gw, max_tokens=1000, routing={"policy": "cost"})
    assert meta.deployment == "cheap" and meta.routing is not None and meta.routing.policy == "cost"
    # The override is per request: the next call routes by the config again.
    meta = await ask(gw, max_tokens=1000)
    assert meta.deployment == "pricey" and meta.routing is not None and meta.routing.policy == "priority"
    stream = await gw.chat.completions.create(
        model="m", messages=MESSAGES, stream=True, max_tokens=1000, routing={"policy": "cost"}
    )
    async for _ in stream:
        pass
    assert stream.gateway is not None and stream.gateway.deployment == "cheap"


@pytest.mark.parametrize(
    "override",
    [{"policy": "fastest"}, {"bogus": 1}, {"max_cost_per_request": "-1"}, {"weights": {"speed": 1}}],
)
async def test_g_invalid_override_is_a_bad_request(override: dict[str, Any]) -> None:
    gw = gateway([mock("only")], policy="priority")
    with pytest.raises(BadRequestError) as caught:
        await ask(gw, routing=override)
    assert "invalid routing override" in caught.value.message
    assert calls_to(by_name(gw)["only"]) == 0


# (h) -----------------------------------------------------------------------------------------


async def test_h_context_window_excludes_a_too_small_deployment() -> None:
    gw = gateway([mock("small", context_window=100), mock("large", context_window=8192)], policy="priority")
    assert (await ask(gw, max_tokens=50)).deployment == "small"
    meta = await ask(gw, max_tokens=500)
    assert meta.deployment == "large" and meta.routing is not None
    assert [s.deployment for s in meta.routing.scores] == ["large"]
    assert calls_to(by_name(gw)["small"]) == 1
    with pytest.raises(ContextWindowExceededError) as caught:
        await ask(gw, max_tokens=10_000)
    assert isinstance(caught.value, BadRequestError) and caught.value.code == "context_length_exceeded"


# (i) -----------------------------------------------------------------------------------------


def stalling_pair() -> list[dict[str, Any]]:
    stalls = {"script": [{"fault": "delay", "seconds": 2.0}], "pricing": {"input_per_million": "1000"}}
    return [mock("staller", **stalls), mock("backup", latency_ms=5)]


async def test_i_hedge_answers_a_stalled_call() -> None:
    gw = gateway(stalling_pair(), policy="priority", hedging={"enabled": True, "delay_ms": 50})
    started = time.perf_counter()
    meta = await ask(gw)
    elapsed = time.perf_counter() - started
    assert meta.deployment == "backup" and elapsed < 0.5
    outcomes = [(a.deployment, a.outcome, a.hedge) for a in meta.attempts]
    assert outcomes == [("backup", "ok", True), ("staller", "cancelled", False)]
    assert meta.cost.abandoned > 0 and meta.cost.total >= meta.cost.abandoned and meta.cost.estimated
    staller = by_name(gw)["staller"]
    assert staller.stats.in_flight == 0 and staller.breaker.state is BreakerState.CLOSED


async def test_i_hedge_answers_a_stalled_stream() -> None:
    gw = gateway(stalling_pair(), policy="priority", hedging={"enabled": True, "delay_ms": 50})
    started = time.perf_counter()
    stream = await gw.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "You said: which way" and time.perf_counter() - started < 0.5
    meta = stream.gateway
    assert meta is not None and meta.deployment == "backup"
    assert {(a.deployment, a.outcome, a.hedge) for a in meta.attempts} == {
        ("backup", "ok", True),
        ("staller", "cancelled", False),
    }
    assert meta.cost.abandoned > 0


async def test_i_hedging_can_be_switched_on_per_request() -> None:
    gw = gateway(stalling_pair(), policy="priority", hedging={"delay_ms": 50})
    started = time.perf_counter()
    meta = await ask(gw, routing={"hedging": True})
    assert meta.deployment == "backup" and time.perf_counter() - started < 0.5


# (j) -----------------------------------------------------------------------------------------


async def test_j_retry_after_is_honoured_between_passes() -> None:
    limited = [{"fault": "rate_limit", "retry_after": 0.3}]
    gw = gateway([mock("a", script=limited), mock("b", script=limited)], policy="priority")
    started = time.perf_counter()
    meta = await ask(gw)
    elapsed = time.perf_counter() - started
    assert meta.routing is not None and meta.routing.rounds == 2
    first, second = meta.attempts[:2], meta.attempts[2:]
    assert [(a.outcome, a.status_code) for a in first] == [("error", 429), ("error", 429)]
    assert all(a.wait_ms == 0 for a in first)
    assert [a.outcome for a in second] == ["ok"] and second[0].wait_ms >= 300.0
    assert elapsed >= 0.3


async def test_j_retry_after_not_honoured_when_one_failure_gave_none() -> None:
    # One deployment asked to wait 5 s, the other just reset: the short backoff applies.
    gw = gateway(
        [
            mock("a", script=[{"fault": "rate_limit", "retry_after": 5.0}]),
            mock("b", script=[{"fault": "reset"}]),
        ],
        policy="priority",
    )
    started = time.perf_counter()
    meta = await ask(gw)
    assert time.perf_counter() - started < 1.0
    assert meta.attempts[-1].outcome == "ok" and 0 < meta.attempts[-1].wait_ms < 1000.0
