"""The books under faults: callers cancelled at any await, streams dropped on another thread,
failed tries and their token charges. Nothing is lost, held forever, or counted twice."""

from __future__ import annotations

import asyncio
import gc
import random
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis

from llmgateway import Gateway, SyncGateway
from llmgateway.accounting.budgets.store import UNITS
from llmgateway.errors import GatewayError

HELLO = [{"role": "user", "content": "hello there"}]


def _chat(**sections: Any) -> dict[str, Any]:
    return {
        "models": {
            "chat": {
                "deployments": [
                    {
                        "name": "mock-a",
                        "provider": "mock",
                        "settings": {"latency_ms": 1, "chunk_interval_ms": 1},
                        "pricing": {"input_per_million": "100", "output_per_million": "400"},
                    }
                ]
            }
        },
        **sections,
    }


def _ledger(path: Path) -> list[tuple[str, str, Decimal]]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT id, outcome, cost_total FROM llm_usage").fetchall()
    return [(row[0], row[1], Decimal(row[2])) for row in rows]


@pytest.mark.integration
@pytest.mark.parametrize("seed", [5, 11, 23])
async def test_cancelled_callers_leave_a_record_and_no_budget_hold(
    tmp_path: Path, redis_url: str, redis_prefix: str, seed: int
) -> None:
    """Calls (unary and streamed) cancelled at random moments, with budgets and limits in the
    real Redis: each call has one record, and the budget counter equals what the records cost."""
    path = tmp_path / "usage.sqlite"
    shared = {"backend": "redis", "redis_url": redis_url, "prefix": redis_prefix}
    config = _chat(
        ledger={"backend": "sqlite", "path": str(path)},
        budgets={**shared, "limits": [{"scope": "global", "period": "total", "hard": "1000"}]},
        limits={**shared, "keys": {"*": {"tpm": 10_000_000}}},
        cache={"backend": "redis", "redis_url": redis_url, "prefix": redis_prefix + "cache:"},
    )
    rng = random.Random(seed)
    calls = 120
    async with Gateway(config, caller="k") as gateway:

        async def one(i: int) -> None:
            if i % 2:
                stream = await gateway.chat.completions.create(
                    model="chat", messages=HELLO, stream=True, temperature=i % 3 and 1
                )
                async for _ in stream:
                    pass
            else:
                await gateway.chat.completions.create(model="chat", messages=HELLO, temperature=i % 3 and 1)

        for i in range(calls):
            task = asyncio.ensure_future(one(i))
            await asyncio.sleep(rng.uniform(0, 0.004))
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, GatewayError):
                pass
        assert gateway._pipeline.in_flight == 0
    rows = _ledger(path)
    assert len(rows) == len({r[0] for r in rows}) == calls
    assert {r[1] for r in rows} >= {"cancelled", "ok"}
    client = redis.from_url(redis_url)
    try:
        keys = [k async for k in client.scan_iter(match=f"{redis_prefix}global:*")]
        assert len(keys) == 1
        held = int(await client.get(keys[0]))
    finally:
        await client.aclose()
    recorded = sum(r[2] for r in rows)
    # Reservations round up to 1e-9 units: settled counters equal the records to that unit.
    assert abs(Decimal(held) / UNITS - recorded) <= Decimal(calls) / UNITS


async def test_failed_tries_give_their_token_charges_back() -> None:
    """A deployment that failed twice (each try charged ~300 tokens of a 1,000 tokens/min
    bucket) still serves three more calls: the failed tries' charges were refunded."""
    config = _chat()
    deployment = config["models"]["chat"]["deployments"][0]
    deployment["limits"] = {"tpm": 1000, "max_wait": 0}
    deployment["settings"]["script"] = [{"fault": "error", "status": 503}] * 2
    config["models"]["chat"]["routing"] = {"retry": {"max_rounds": 1}}
    async with Gateway(config) as gateway:
        for _ in range(2):
            with pytest.raises(GatewayError):
                await gateway.chat.completions.create(model="chat", messages=HELLO, max_tokens=300)
        for _ in range(3):
            await gateway.chat.completions.create(model="chat", messages=HELLO, max_tokens=300)


def test_a_stream_dropped_unread_on_another_thread_is_settled(tmp_path: Path) -> None:
    path = tmp_path / "usage.sqlite"
    config = _chat(
        ledger={"backend": "sqlite", "path": str(path)},
        budgets={"limits": [{"scope": "key", "period": "day", "hard": "10"}]},
    )
    with SyncGateway(config, caller="k") as gateway:
        stream = gateway.chat.completions.create(model="chat", messages=HELLO, stream=True)
        next(iter(stream))
        del stream
        gc.collect()
        pipeline = gateway.gateway._pipeline
        for _ in range(100):
            if pipeline.in_flight == 0:
                break
            gateway._loop.run(asyncio.sleep(0.01))
        assert pipeline.in_flight == 0
    rows = _ledger(path)
    assert [r[1] for r in rows] == ["closed"]
