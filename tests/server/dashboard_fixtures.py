"""A gateway with mock deployments and a SQLite ledger that has seen a few calls, and a small
Starlette app with the dashboard mounted at /ui (the way the proxy mounts it)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Mount

from llmgateway.accounting.ledger import UsageRecord
from llmgateway.client import Gateway
from llmgateway.server.auth import MasterKeyAuthenticator
from llmgateway.server.dashboard import dashboard_routes
from llmgateway.server.state import ServerState

MASTER = "sk-master-dashboard-0123456789"
PRICES = {"input_per_million": "1.5", "output_per_million": "2"}
# (model, caller key, how many calls); "chat" has two deployments, each takes some of its calls.
CALLS = [("chat", "k1", 4), ("chat", "k2", 2), ("summarize", "k1", 3)]


def gateway_config(tmp_path: Path, *, ledger: bool = True) -> dict[str, Any]:
    def mock(name: str, latency_ms: float, **extra: Any) -> dict[str, Any]:
        return {
            "name": name,
            "provider": "mock",
            "settings": {"latency_ms": latency_ms, **extra},
            "pricing": PRICES,
        }

    config: dict[str, Any] = {
        "models": {
            "chat": {
                "deployments": [mock("chat-fast", 2), mock("chat-slow", 15)],
                "routing": {"policy": "weighted"},
            },
            "summarize": {"deployments": [mock("summarize-a", 8)]},
        },
        "server": {"master_key": MASTER},
    }
    if ledger:
        config["ledger"] = {
            "backend": "sqlite",
            "path": str(tmp_path / "usage.sqlite"),
            "flush_interval": 0.05,
        }
    return config


async def make_calls(gateway: Gateway) -> int:
    # A fixed draw for the weighted chat route: both chat deployments serve some of the six calls
    # (unseeded, all six went to one of them about one run in 32).
    gateway.pipeline.dispatcher.router.rng.seed(3)
    made = 0
    for model, key, count in CALLS:
        for i in range(count):
            await gateway.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": f"hello number {i} from {key}"}],
                caller=key,
            )
            made += 1
    if gateway.services.ledger is not None:
        await gateway.services.ledger.flush()
    return made


def server_state(gateway: Gateway) -> ServerState:
    assert gateway.config is not None
    server = gateway.config.server
    return ServerState(
        gateway=gateway, config=server, authenticator=MasterKeyAuthenticator(server.master_key)
    )


def dashboard_app(state: ServerState) -> Starlette:
    return Starlette(routes=[Mount("/ui", routes=dashboard_routes(state))])


def history(now: datetime, count: int = 60) -> list[UsageRecord]:
    """Older records spread over the last hour (some errors, some cache hits), so the charts have
    a shape. Same models, deployments and keys as CALLS."""
    spots = [("chat", "chat-fast"), ("chat", "chat-slow"), ("summarize", "summarize-a")]
    records = []
    for i in range(count):
        model, deployment = spots[i % 3]
        hit = i % 7 == 0
        failed = i % 11 == 5
        cost = Decimal(0) if hit or failed else Decimal(i % 5 + 1).scaleb(-5) * (3 if model == "chat" else 1)
        records.append(
            UsageRecord(
                id=f"history-{i}", created_at=now - timedelta(minutes=58) + timedelta(seconds=i * 55),
                key=("k1", "k2")[i % 2], team=None, model=model, deployment=deployment, provider="mock",
                outcome="error" if failed else "ok", error_type="ServerError" if failed else None,
                status_code=500 if failed else None, cache="hit" if hit else "miss", stream=False,
                prompt_tokens=10 + i, completion_tokens=20, compute_seconds=None, cost_input=cost,
                cost_output=Decimal(0), cost_compute=Decimal(0), cost_abandoned=Decimal(0),
                cost_total=cost, currency="USD", estimated=False, latency_ms=5.0 + i % 9, ttft_ms=None,
                attempts=1,
            )
        )  # fmt: skip
    return records
