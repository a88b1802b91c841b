"""`llmgateway serve --workers 2` as a real process: both workers share the virtual keys and the
ledger (PostgreSQL) and the limits, budgets and cache (Redis). A key's rate limit and budget
hold across workers, every call lands in the one ledger, and SIGTERM loses none of them."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import openai
import pytest
import yaml

from tests.server.harness import MASTER_KEY, free_port

pytestmark = [pytest.mark.integration]


def _config(postgres_dsn: str, redis_url: str, prefix: str) -> dict[str, Any]:
    shared = {"backend": "redis", "redis_url": redis_url, "prefix": prefix}
    return {
        "models": {
            "chat": {
                "deployments": [
                    {
                        "name": "mock-a",
                        "provider": "mock",
                        "settings": {"latency_ms": 2},
                        "pricing": {"input_per_million": "1000", "output_per_million": "1000"},
                    }
                ]
            }
        },
        "limits": shared,
        "budgets": shared,
        "cache": {"backend": "redis", "redis_url": redis_url, "prefix": prefix + "cache:"},
        "ledger": {"backend": "postgres", "dsn": postgres_dsn, "flush_interval": 0.2},
        "cluster": {"redis_url": redis_url, "prefix": prefix},
        "server": {"master_key": MASTER_KEY, "keys": {"backend": "postgres", "dsn": postgres_dsn}},
    }


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited during start-up"
        try:
            if httpx.get(f"{url}/health/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("the server did not become ready")


async def test_two_workers_share_keys_limits_budget_cache_and_ledger(
    tmp_path: Path, postgres_dsn: str, redis_url: str, redis_prefix: str
) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(_config(postgres_dsn, redis_url, redis_prefix)))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(  # noqa: ASYNC220 (started once; the test waits for it in a thread)
        [
            sys.executable,
            "-m",
            "llmgateway",
            "serve",
            "--config",
            str(path),
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=Path(__file__).parents[2],
    )
    try:
        await asyncio.to_thread(_wait_ready, url, process)
        admin = {"Authorization": f"Bearer {MASTER_KEY}"}
        async with httpx.AsyncClient(base_url=url, headers=admin) as http:
            limited = (await http.post("/admin/keys", json={"name": "limited", "rpm": 12})).json()["key"]
            spender = (
                await http.post("/admin/keys", json={"name": "spender", "budget": {"hard": "0.05"}})
            ).json()
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=limited, max_retries=0)
        # rpm 12 lets 2 calls (ten seconds' worth) through back to back, across both workers.
        outcomes = await asyncio.gather(
            *(
                client.chat.completions.create(model="chat", messages=[{"role": "user", "content": f"q{i}"}])
                for i in range(20)
            ),
            return_exceptions=True,
        )
        passed = [o for o in outcomes if not isinstance(o, BaseException)]
        refused = [o for o in outcomes if isinstance(o, openai.RateLimitError)]
        assert len(passed) == 2 and len(refused) == 18
        spending = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=spender["key"], max_retries=0)
        spent = 0
        with pytest.raises(openai.APIStatusError) as over:
            for i in range(200):
                await spending.chat.completions.create(
                    model="chat", messages=[{"role": "user", "content": f"spend {i}"}], max_tokens=5
                )
                spent += 1
        assert over.value.status_code == 402 and spent > 3
        cached = [
            await spending.with_options(api_key=MASTER_KEY).chat.completions.with_raw_response.create(
                model="chat", messages=[{"role": "user", "content": "same"}], temperature=0
            )
            for _ in range(4)
        ]
        assert [r.headers["x-llmgateway-cache"] for r in cached].count("hit") >= 3
        workers = {r.headers.get("x-llmgateway-request-id") for r in cached}
        assert len(workers) == 4
        # One /metrics for both workers: every scrape counts every call, whichever worker answers.
        await asyncio.sleep(1.5)  # each worker shares its counters every second
        answered = 20 + spent + 1 + 4
        async with httpx.AsyncClient(base_url=url) as http:
            for _ in range(6):
                text = (await http.get("/metrics")).text
                counted = sum(
                    float(line.rsplit(" ", 1)[1])
                    for line in text.splitlines()
                    if line.startswith("llmgateway_requests_total{")
                )
                assert counted == answered, (counted, answered)
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = await asyncio.to_thread(process.communicate, timeout=30)
    assert process.returncode == 0, stderr.decode()[-2000:]
    connection = await asyncpg.connect(postgres_dsn)
    try:
        rows = await connection.fetch("SELECT key, outcome, cost_total FROM llm_usage")
    finally:
        await connection.close()
    assert len(rows) == 20 + spent + 1 + 4  # every call, from both workers, none lost at shutdown
    call_log = [line for line in stdout.decode().splitlines() if '"request_id"' in line]
    assert len(call_log) == len(rows)  # each worker logs its calls
    spender_cost = sum(r["cost_total"] for r in rows if r["key"] == spender["id"])
    assert 0 < spender_cost <= 0.05
