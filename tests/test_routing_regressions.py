"""Routing and reliability cases that a review found broken once."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest

from llmgateway import APITimeoutError, Capabilities, Deployment, Gateway, ServiceUnavailableError
from llmgateway.accounting.pricing import Pricing
from llmgateway.routing.breaker import BreakerConfig, BreakerState
from providers.mock import Delay, DropStream, MockProvider, ServerError
from tests.payloads import USER


async def test_a_hung_try_is_cut_off_at_the_routing_deadline() -> None:
    config = {
        "models": {
            "m": {
                "routing": {"retry": {"deadline": 0.3}},
                "deployments": [{"provider": "mock", "settings": {"latency_ms": 3000}}],
            }
        }
    }
    async with Gateway(config) as gw:
        started = time.monotonic()
        with pytest.raises(APITimeoutError, match="deadline") as caught:
            await gw.chat.completions.create(model="m", messages=USER)
        assert time.monotonic() - started < 1.0
        assert [a.outcome for a in caught.value.attempts] == ["cancelled"]
        assert gw.deployments()[0].stats.in_flight == 0


async def test_retry_passes_skip_deployments_another_pass_cannot_fix() -> None:
    for order in (("bad-key", "busy"), ("busy", "bad-key")):
        providers = {
            "bad-key": MockProvider(name="bad-key", script=[ServerError(401)], repeat=True),
            "busy": MockProvider(name="busy", script=[ServerError(503)], repeat=True),
        }
        gw = Gateway(models={"m": [providers[name] for name in order]})
        with pytest.raises(ServiceUnavailableError) as caught:
            await gw.chat.completions.create(model="m", messages=USER)
        tried = [a.deployment for a in caught.value.attempts]
        assert tried.count("bad-key") == 1 and tried.count("busy") == 3, (order, tried)


async def test_streams_that_break_after_their_first_token_trip_the_breaker() -> None:
    breaker = BreakerConfig(min_calls=4, failure_rate=0.5)
    flaky = Deployment(
        "flaky",
        MockProvider(lambda r: "a b c d", script=[DropStream(2)], repeat=True),
        breaker_config=breaker,
    )
    gw = Gateway(models={"m": flaky})
    for _ in range(4):
        stream = await gw.chat.completions.create(model="m", messages=USER, stream=True)
        with pytest.raises(Exception):  # noqa: B017 - the drop itself is tested elsewhere
            async for _chunk in stream:
                pass
    assert flaky.breaker.state is BreakerState.OPEN
    assert flaky.stats.in_flight == 0


async def test_closing_a_stream_that_was_never_read_closes_the_upstream() -> None:
    closed: list[bool] = []

    class Tracking(MockProvider):
        async def stream_chat(self, request, *, timeout=None):  # type: ignore[no-untyped-def]
            try:
                async for chunk in super().stream_chat(request, timeout=timeout):
                    yield chunk
            finally:
                closed.append(True)

    provider = Tracking(lambda r: "one two three", chunk_interval=0.01)
    gw = Gateway(models={"m": provider})
    stream = await gw.chat.completions.create(model="m", messages=USER, stream=True)
    await stream.aclose()
    assert closed == [True]
    assert gw.deployments()[0].stats.in_flight == 0
    assert stream.gateway is not None and stream.gateway.cost.estimated


async def test_a_cost_limit_equal_to_the_estimate_is_accepted() -> None:
    pricing = Pricing(input_per_million=Decimal("0.3"), output_per_million=Decimal("0.6"))
    gw = Gateway(models={"m": Deployment("d", MockProvider(), pricing=pricing)})
    # 5 prompt tokens (4 of text + 1 of markup) x 0.3/M + 15 output x 0.6/M = 0.0000105 exactly
    reply = await gw.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "abcd"}],
        max_tokens=15,
        routing={"policy": "cost", "max_cost_per_request": "0.0000105"},
    )
    assert reply.gateway is not None


async def test_health_checks_probe_with_a_call_the_deployment_supports() -> None:
    embed_only = Capabilities(chat=False, streaming=False, embeddings=True)
    config = {
        "models": {
            "e": {
                "routing": {
                    "health_check": {"interval_seconds": 0.02},
                    "breaker": {"open_seconds": 0.01, "half_open_probes": 1},
                },
                "deployments": [{"name": "e1", "provider": "mock"}],
            }
        }
    }
    async with Gateway(config) as gw:
        deployment = gw.deployments()[0]
        deployment.provider.capabilities = embed_only  # type: ignore[misc]
        deployment.breaker.state = BreakerState.OPEN
        await gw.embeddings.create(model="e", input="x")  # starts the checks
        for _ in range(100):
            if deployment.breaker.state is BreakerState.CLOSED:
                break
            await asyncio.sleep(0.01)
        assert deployment.breaker.state is BreakerState.CLOSED


async def test_hedge_losers_do_not_hold_back_the_answer() -> None:
    slow_cleanup: list[float] = []

    class SlowToCancel(MockProvider):
        async def chat(self, request, *, timeout=None):  # type: ignore[no-untyped-def]
            try:
                return await super().chat(request, timeout=timeout)
            except asyncio.CancelledError:
                await asyncio.sleep(0.3)  # a slow cleanup after the cancel
                slow_cleanup.append(time.monotonic())
                raise

    stalled = SlowToCancel(name="stalled", script=[Delay(5.0)])
    quick = MockProvider(name="quick")
    gw = Gateway(models={"m": [Deployment("stalled", stalled), Deployment("quick", quick)]})
    started = time.monotonic()
    reply = await gw.chat.completions.create(model="m", messages=USER, routing={"hedging": True})
    assert reply.gateway is not None and reply.gateway.deployment == "quick"
    assert time.monotonic() - started < 0.3 + 0.25  # the hedge fires at the initial delay, then answers
    assert not slow_cleanup or slow_cleanup[0] > started
