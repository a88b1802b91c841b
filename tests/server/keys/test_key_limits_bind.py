"""End to end: a virtual key's own rate limit and budget bind on a gateway with server.keys."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from llmgateway.client import Gateway
from llmgateway.errors import BudgetExceededError, RateLimitError
from llmgateway.server.auth import KeyAuthenticator, build_authenticator

MASTER_KEY = "master-key-0123456789"
HELLO = [{"role": "user", "content": "hello there"}]


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[tuple[Gateway, KeyAuthenticator]]:
    config: dict[str, Any] = {
        "models": {
            "chat": {
                "deployments": [
                    {"provider": "mock", "pricing": {"input_per_million": "100", "output_per_million": "100"}}
                ]
            }
        },
        "server": {
            "master_key": MASTER_KEY,
            "keys": {"backend": "sqlite", "path": str(tmp_path / "keys.sqlite")},
        },
    }
    gw = Gateway(config)
    assert gw.config is not None
    auth = build_authenticator(gw.config.server)
    assert isinstance(auth, KeyAuthenticator)
    yield gw, auth
    await auth.aclose()
    await gw.aclose()


async def test_a_keys_rpm_rejects_at_once(gateway: tuple[Gateway, KeyAuthenticator]) -> None:
    gw, auth = gateway
    _, key = await auth.store.create({"name": "slow", "rpm": 1})
    _, other = await auth.store.create({"name": "free"})
    caller = (await auth.authenticate(f"Bearer {key}")).caller
    await gw.chat.completions.create(model="chat", messages=HELLO, caller=caller)
    with pytest.raises(RateLimitError):
        await gw.chat.completions.create(model="chat", messages=HELLO, caller=caller)
    free = (await auth.authenticate(f"Bearer {other}")).caller
    for _ in range(3):  # another key has its own counters
        await gw.chat.completions.create(model="chat", messages=HELLO, caller=free)


async def test_a_keys_hard_budget_binds(gateway: tuple[Gateway, KeyAuthenticator]) -> None:
    gw, auth = gateway
    record, key = await auth.store.create({"name": "poor", "budget": {"hard": "0.005", "period": "day"}})
    caller = (await auth.authenticate(f"Bearer {key}")).caller
    with pytest.raises(BudgetExceededError) as refused:
        for _ in range(100):
            await gw.chat.completions.create(model="chat", messages=HELLO, max_tokens=8, caller=caller)
    assert record.id in str(refused.value)
