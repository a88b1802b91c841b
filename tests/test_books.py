"""The gateway's books around each call, through the SDK: cache, ledger, budgets, rate limits,
prices and shutdown (in memory and SQLite; the Redis and PostgreSQL variants are integration tests)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from llmgateway import Gateway
from llmgateway.accounting.ledger.sqlite_store import SqliteLedgerStore
from llmgateway.accounting.pricing import Pricing
from llmgateway.caller import Caller
from llmgateway.errors import BadRequestError, BudgetExceededError, RateLimitError, ServiceUnavailableError
from llmgateway.routing.deployment import Deployment
from providers.mock import Delay, MockProvider, ServerError

HELLO = [{"role": "user", "content": "hello there"}]
PRICES = Pricing(input_per_million=Decimal("1"), output_per_million=Decimal("2"))


def _gateway(provider: MockProvider | None = None, **services: Any) -> tuple[Gateway, MockProvider]:
    provider = provider or MockProvider()
    deployment = Deployment(name="mock-a", provider=provider, pricing=PRICES)
    return Gateway(models={"chat": [deployment]}, **services), provider


async def _ledger_rows(path: Path) -> list[tuple[Any, ...]]:
    import sqlite3

    with sqlite3.connect(path) as connection:
        return connection.execute(
            "SELECT id, key, outcome, cache, cost_total, stream, error_type"
            " FROM llm_usage ORDER BY created_at"
        ).fetchall()


async def test_a_cache_hit_costs_nothing_and_says_what_it_saved() -> None:
    gateway, provider = _gateway(cache={"backend": "memory"})
    async with gateway:
        first = await gateway.chat.completions.create(model="chat", messages=HELLO, temperature=0)
        second = await gateway.chat.completions.create(model="chat", messages=HELLO, temperature=0)
    assert first.gateway is not None and second.gateway is not None
    assert first.gateway.cache == "miss" and first.gateway.cost.total > 0
    assert second.gateway.cache == "hit"
    assert second.gateway.cost.total == 0 and not second.gateway.cost.estimated
    assert second.gateway.cost.saved == first.gateway.cost.total
    assert second.text() == first.text() and second.gateway.deployment == "mock-a"
    assert len(provider.calls) == 1


async def test_only_deterministic_requests_are_cached_by_default() -> None:
    gateway, provider = _gateway(cache={"backend": "memory"})
    async with gateway:
        for _ in range(2):
            reply = await gateway.chat.completions.create(model="chat", messages=HELLO, temperature=0.7)
            assert reply.gateway is not None and reply.gateway.cache == "off"
        seeded = [
            await gateway.chat.completions.create(model="chat", messages=HELLO, seed=3) for _ in range(2)
        ]
    assert [r.gateway.cache for r in seeded if r.gateway] == ["miss", "hit"]
    assert len(provider.calls) == 3


async def test_per_call_cache_control() -> None:
    gateway, provider = _gateway(cache={"backend": "memory"})
    create = gateway.chat.completions.create
    async with gateway:
        assert (
            await create(model="chat", messages=HELLO, temperature=0, cache="no-store")
        ).gateway.cache == "no-store"  # type: ignore[union-attr]
        assert (
            await create(model="chat", messages=HELLO, temperature=0, cache="skip")
        ).gateway.cache == "skip"  # type: ignore[union-attr]
        assert (await create(model="chat", messages=HELLO, temperature=0)).gateway.cache == "miss"  # type: ignore[union-attr]
        assert (
            await create(model="chat", messages=HELLO, temperature=0, cache="refresh")
        ).gateway.cache == "refresh"  # type: ignore[union-attr]
        assert (await create(model="chat", messages=HELLO, temperature=0)).gateway.cache == "hit"  # type: ignore[union-attr]
        with pytest.raises(BadRequestError):
            await create(model="chat", messages=HELLO, temperature=0, cache="sometimes")
    assert len(provider.calls) == 4


async def test_a_cached_stream_is_replayed_as_a_stream() -> None:
    gateway, provider = _gateway(cache={"backend": "memory"})
    params: dict[str, Any] = {"model": "chat", "messages": HELLO, "temperature": 0, "stream": True}
    async with gateway:
        live = await gateway.chat.completions.create(**params)
        live_text = "".join([c.choices[0].delta.content or "" async for c in live if c.choices])
        replay = await gateway.chat.completions.create(**params, stream_options={"include_usage": True})
        chunks = [c async for c in replay]
        unary = await gateway.chat.completions.create(model="chat", messages=HELLO, temperature=0)
    assert live.gateway is not None and live.gateway.cache == "miss"
    assert replay.gateway is not None and replay.gateway.cache == "hit" and replay.gateway.cost.total == 0
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == live_text
    assert chunks[-1].usage is not None and chunks[-1].gateway is not None  # asked for usage: it comes last
    assert unary.gateway is not None and unary.gateway.cache == "hit" and unary.text() == live_text
    assert len(provider.calls) == 1


async def test_the_ledger_holds_one_record_per_call_with_the_reported_cost(tmp_path: Path) -> None:
    path = tmp_path / "usage.sqlite"
    failing = MockProvider(script=[ServerError(400)])
    gateway = Gateway(
        models={
            "chat": [Deployment(name="mock-a", provider=MockProvider(), pricing=PRICES)],
            "down": [Deployment(name="broken", provider=failing)],
        },
        cache={"backend": "memory"},
        ledger={"backend": "sqlite", "path": str(path)},
        caller={"key": "app-1", "team": "search"},
    )
    reported: dict[str, Decimal] = {}
    async with gateway:
        for temperature in (0, 0, 1):
            reply = await gateway.chat.completions.create(
                model="chat", messages=HELLO, temperature=temperature
            )
            assert reply.gateway is not None and reply.gateway.request_id is not None
            reported[reply.gateway.request_id] = reply.gateway.cost.total
        stream = await gateway.chat.completions.create(
            model="chat", messages=HELLO, stream=True, caller="app-2"
        )
        async for _ in stream:
            break
        await stream.aclose()
        assert stream.gateway is not None and stream.gateway.request_id is not None
        reported[stream.gateway.request_id] = stream.gateway.cost.total
        with pytest.raises(BadRequestError):
            await gateway.chat.completions.create(model="down", messages=HELLO)
    rows = await _ledger_rows(path)
    assert len(rows) == 5
    by_id = {row[0]: row for row in rows}
    for request_id, cost in reported.items():
        assert Decimal(by_id[request_id][4]) == cost
    assert [row[3] for row in rows[:3]] == ["miss", "hit", "off"]
    assert rows[3][1:3] == ("app-2", "closed") and rows[3][5] == 1
    assert rows[4][2] == "error" and rows[4][6] == "invalid_request_error" and Decimal(rows[4][4]) == 0
    store = SqliteLedgerStore(path)
    try:
        totals = await store.totals(["key"])
        assert {t.group["key"]: t.calls for t in totals} == {"app-1": 4, "app-2": 1}
    finally:
        await store.aclose()


async def test_budgets_warn_then_reject_and_the_rejection_is_recorded(tmp_path: Path) -> None:
    path = tmp_path / "usage.sqlite"
    gateway, _ = _gateway(
        budgets={
            "limits": [{"scope": "key", "name": "*", "period": "day", "soft": "0.00004", "hard": "0.0001"}]
        },
        ledger={"backend": "sqlite", "path": str(path)},
        caller="app-1",
    )
    warned: list[str] = []
    async with gateway:
        with pytest.raises(BudgetExceededError) as refused:
            for _ in range(50):
                reply = await gateway.chat.completions.create(model="chat", messages=HELLO, max_tokens=5)
                assert reply.gateway is not None
                warned += reply.gateway.warnings or []
        other = await gateway.chat.completions.create(
            model="chat", messages=HELLO, max_tokens=5, caller="app-2"
        )
    assert len(warned) == 1 and "app-1" in warned[0]
    assert "app-1" in str(refused.value) and refused.value.status_code == 402
    assert other.gateway is not None
    rows = await _ledger_rows(path)
    assert rows[-2][2] == "error" and rows[-2][6] == "budget_exceeded"
    spent = sum(Decimal(r[4]) for r in rows if r[1] == "app-1")
    assert 0 < spent <= Decimal("0.0001")


async def test_key_rate_limits_reject_with_retry_after() -> None:
    gateway, _ = _gateway(limits={"keys": {"*": {"rpm": 60, "max_wait": 0}}})
    async with gateway:
        await gateway.chat.completions.create(model="chat", messages=HELLO, caller="k1")
        with pytest.raises(RateLimitError) as limited:
            await gateway.chat.completions.create(model="chat", messages=HELLO, caller="k1")
        await gateway.chat.completions.create(model="chat", messages=HELLO, caller=Caller(key="k2"))
    assert limited.value.retry_after is not None and 0 < limited.value.retry_after <= 1.0
    assert "k1" in str(limited.value)


async def test_deployment_token_limits_are_charged_on_the_estimate_and_corrected() -> None:
    """Each call reserves its prompt plus max_tokens (400) of a 1,000 tokens/min bucket; without
    the correction to the few tokens really used, the third call would be refused."""
    provider = MockProvider()
    deployment = Deployment(name="mock-a", provider=provider, pricing=PRICES)
    deployment.limits = deployment.limits.model_copy(update={"tpm": 1000, "max_wait": 0})
    gateway = Gateway(models={"chat": [deployment]})
    async with gateway:
        for _ in range(10):
            await gateway.chat.completions.create(model="chat", messages=HELLO, max_tokens=400)
        with pytest.raises(RateLimitError):
            await gateway.chat.completions.create(model="chat", messages=HELLO, max_tokens=2000)


async def test_instance_hour_pricing_charges_the_time_the_call_used() -> None:
    provider = MockProvider(script=[Delay(0.05)], repeat=True)
    hourly = Pricing(per_instance_hour=Decimal("3600"))  # one currency unit per instance-second
    gateway = Gateway(models={"chat": [Deployment(name="dedicated", provider=provider, pricing=hourly)]})
    async with gateway:
        one = await gateway.chat.completions.create(model="chat", messages=HELLO)
        both = await asyncio.gather(
            *(gateway.chat.completions.create(model="chat", messages=HELLO) for _ in range(2))
        )
    assert one.gateway is not None and not one.gateway.cost.estimated
    assert Decimal("0.045") < one.gateway.cost.compute < Decimal("0.1")
    # Two calls sharing the instance split its time: each pays about half of its own latency.
    for reply in both:
        assert reply.gateway is not None
        assert reply.gateway.cost.compute < Decimal(str(reply.gateway.latency_ms / 1000)) * Decimal("0.75")


async def test_prices_come_from_the_bundled_table_by_model_name() -> None:
    config = {
        "models": {
            "chat": {
                "deployments": [
                    {"name": "mini", "provider": "mock", "pricing": {"model": "gpt-4o-mini"}},
                    {
                        "name": "mini-discount",
                        "provider": "mock",
                        "pricing": {"model": "gpt-4o-mini", "input_per_million": "0.10"},
                    },
                ]
            }
        }
    }
    async with Gateway(config) as gateway:
        mini, discount = gateway.deployments()
    assert mini.pricing.input_per_million == Decimal("0.15") and mini.pricing.output_per_million == Decimal(
        "0.60"
    )
    assert discount.pricing.input_per_million == Decimal("0.10")
    assert discount.pricing.output_per_million == Decimal("0.60")


async def test_shutdown_finishes_calls_in_flight_and_refuses_new_ones(tmp_path: Path) -> None:
    path = tmp_path / "usage.sqlite"
    provider = MockProvider(script=[Delay(0.2)])
    gateway, _ = _gateway(provider, ledger={"backend": "sqlite", "path": str(path)})
    slow = asyncio.ensure_future(gateway.chat.completions.create(model="chat", messages=HELLO))
    await asyncio.sleep(0.05)
    closing = asyncio.ensure_future(gateway.shutdown(drain_seconds=5))
    await asyncio.sleep(0)
    with pytest.raises(ServiceUnavailableError):
        await gateway.chat.completions.create(model="chat", messages=HELLO)
    reply = await slow
    await closing
    rows = await _ledger_rows(path)
    assert reply.gateway is not None and [r[0] for r in rows] == [reply.gateway.request_id]


def test_caller_arguments_are_checked() -> None:
    gateway, _ = _gateway()
    with pytest.raises(BadRequestError, match="unknown: tenant"):
        asyncio.run(gateway.chat.completions.create(model="chat", messages=HELLO, caller={"tenant": "x"}))


@pytest.mark.model
async def test_semantic_cache_with_the_bundled_embedding_model() -> None:
    """A paraphrase of a cached question is answered from the cache; another topic, or the same
    question with other parameters, is not."""
    gateway, provider = _gateway(cache={"backend": "memory", "semantic": {"enabled": True, "threshold": 0.9}})

    def ask(text: str, **params: Any) -> Any:
        return gateway.chat.completions.create(
            model="chat", messages=[{"role": "user", "content": text}], temperature=0, **params
        )

    async with gateway:
        first = await ask("What is the capital of France?")
        await gateway._pipeline.settled()  # the semantic store runs off the answer's path
        paraphrase = await ask("Which city is the capital of France?")
        other = await ask("How do I bake sourdough bread?")
        other_params = await ask("Which city is the capital of France?", max_tokens=5)
    assert first.gateway is not None and first.gateway.cache == "miss"
    assert paraphrase.gateway is not None and paraphrase.gateway.cache == "hit"
    assert paraphrase.text() == first.text()
    assert other.gateway is not None and other.gateway.cache == "miss"
    assert other_params.gateway is not None and other_params.gateway.cache == "miss"
    assert len(provider.calls) == 3


async def test_strict_ledger_has_the_record_when_the_call_returns(tmp_path: Path) -> None:
    path = tmp_path / "usage.sqlite"
    gateway, _ = _gateway(ledger={"backend": "sqlite", "path": str(path), "strict": True})
    async with gateway:
        reply = await gateway.chat.completions.create(model="chat", messages=HELLO)
        stream = await gateway.chat.completions.create(model="chat", messages=HELLO, stream=True)
        async for _ in stream:
            pass
        # Read before the gateway closes: strict mode committed each record before returning.
        rows = await _ledger_rows(path)
    assert reply.gateway is not None and stream.gateway is not None
    assert [r[0] for r in rows] == [reply.gateway.request_id, stream.gateway.request_id]


def test_usage_command_totals_the_ledger(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from llmgateway.cli import main

    path = tmp_path / "usage.sqlite"

    async def calls() -> None:
        gateway, _ = _gateway(ledger={"backend": "sqlite", "path": str(path)})
        async with gateway:
            for key in ("a", "a", "b"):
                await gateway.chat.completions.create(model="chat", messages=HELLO, caller=key)

    asyncio.run(calls())
    assert main(["usage", "--sqlite", str(path), "--by", "key,deployment,day", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {(r["key"], r["deployment"], r["calls"]) for r in rows} == {("a", "mock-a", 2), ("b", "mock-a", 1)}
    assert sum(Decimal(r["cost"]) for r in rows) > 0
    assert main(["usage", "--sqlite", str(path), "--by", "model", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("model,")
