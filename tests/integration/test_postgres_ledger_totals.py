"""10,000 mixed calls through one gateway into the real PostgreSQL ledger: the ledger's totals
equal the sum of the costs the responses reported, to the cent (in fact to the last digit)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from llmgateway import Gateway
from llmgateway.errors import GatewayError

pytestmark = [pytest.mark.integration]

CALLS = 10_000


def _config(dsn: str) -> dict[str, Any]:
    return {
        "models": {
            "chat": {
                "deployments": [
                    {
                        "name": "cheap",
                        "provider": "mock",
                        "settings": {
                            "fault_rate": 0.1,
                            "faults": [{"fault": "error", "status": 503}],
                            "seed": 7,
                        },
                        "pricing": {
                            "input_per_million": "0.15",
                            "output_per_million": "0.60",
                            "per_request": "0.00001",
                        },
                    },
                    {
                        "name": "dear",
                        "provider": "mock",
                        "pricing": {"input_per_million": "2.50", "output_per_million": "10.00"},
                    },
                ]
            },
            "embed": {
                "deployments": [{"name": "emb", "provider": "mock", "pricing": {"input_per_million": "0.02"}}]
            },
            "broken": {
                "routing": {"retry": {"max_rounds": 1}},
                "deployments": [
                    {
                        "name": "down",
                        "provider": "mock",
                        "settings": {"fault_rate": 1.0, "faults": [{"fault": "error", "status": 500}]},
                    }
                ],
            },
        },
        "ledger": {"backend": "postgres", "dsn": dsn, "batch_size": 500, "flush_interval": 0.2},
        "cache": {"backend": "memory"},
    }


async def _one(gateway: Gateway, i: int) -> tuple[Decimal, str]:
    """One call of the mix; returns the cost it reported and its outcome."""
    key = f"key-{i % 5}"
    kind = i % 10
    try:
        if kind < 4:  # plain chat, varied prompts
            reply = await gateway.chat.completions.create(
                model="chat",
                messages=[{"role": "user", "content": f"question {i} " * (1 + i % 7)}],
                caller=key,
            )
            assert reply.gateway is not None
            return reply.gateway.cost.total, "ok"
        if kind < 6:  # deterministic: repeats are cache hits
            reply = await gateway.chat.completions.create(
                model="chat",
                messages=[{"role": "user", "content": f"fixed {i % 50}"}],
                temperature=0,
                caller=key,
            )
            assert reply.gateway is not None
            return reply.gateway.cost.total, reply.gateway.cache
        if kind < 8:  # streams, some read to the end with usage, some closed early
            stream = await gateway.chat.completions.create(
                model="chat",
                messages=[{"role": "user", "content": f"stream {i} please answer"}],
                stream=True,
                stream_options={"include_usage": True},
                caller=key,
            )
            if kind == 6:
                async for _ in stream:
                    pass
            else:
                await stream.aclose()
            assert stream.gateway is not None
            return stream.gateway.cost.total, "stream"
        if kind == 8:
            result = await gateway.embeddings.create(
                model="embed", input=[f"text {i}", "more text"], caller=key
            )
            assert result.gateway is not None
            return result.gateway.cost.total, "embed"
        await gateway.chat.completions.create(
            model="broken", messages=[{"role": "user", "content": "x"}], caller=key
        )
        raise AssertionError("the broken model answered")
    except GatewayError:
        return Decimal(0), "error"


async def test_ledger_totals_equal_reported_costs(postgres_dsn: str) -> None:
    gateway = Gateway(_config(postgres_dsn))
    reported = Decimal(0)
    outcomes: dict[str, int] = {}
    try:
        for start in range(0, CALLS, 200):
            results = await asyncio.gather(*(_one(gateway, i) for i in range(start, start + 200)))
            for cost, outcome in results:
                reported += cost
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
    finally:
        await gateway.aclose()
    assert outcomes["hit"] > 1000 and outcomes["error"] >= 1000, outcomes

    connection = await asyncpg.connect(postgres_dsn)
    try:
        rows, total, errors, hits = await connection.fetchrow(
            "SELECT count(*), sum(cost_total), count(*) FILTER (WHERE outcome = 'error'),"
            " count(*) FILTER (WHERE cache = 'hit') FROM llm_usage"
        )
    finally:
        await connection.close()
    assert rows == CALLS
    assert errors == outcomes["error"]
    assert hits == outcomes["hit"]
    assert total == reported, (total, reported)
    assert round(total, 2) == round(reported, 2)
