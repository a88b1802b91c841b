"""The admin API over a small Starlette app: master key only, keys CRUD, usage from the ledger."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from llmgateway.client import Gateway
from llmgateway.server.admin import admin_routes
from llmgateway.server.auth import KeyAuthenticator, MasterKeyAuthenticator, build_authenticator
from llmgateway.server.principal import Authenticator
from llmgateway.server.state import ServerState

MASTER_KEY = "master-key-0123456789"
ADMIN = {"Authorization": f"Bearer {MASTER_KEY}"}


@dataclass
class Admin:
    http: httpx.AsyncClient
    gateway: Gateway
    authenticator: Authenticator


def _config(tmp_path: Path, *, keys: bool = True) -> dict[str, Any]:
    server: dict[str, Any] = {"master_key": MASTER_KEY}
    if keys:
        server["keys"] = {"backend": "sqlite", "path": str(tmp_path / "keys.sqlite")}
    return {
        "models": {
            "chat": {
                "deployments": [
                    {"provider": "mock", "pricing": {"input_per_million": "1", "output_per_million": "2"}}
                ]
            },
            "embed": {"deployments": [{"provider": "mock"}]},
        },
        "ledger": {"backend": "sqlite", "path": str(tmp_path / "usage.sqlite")},
        "server": server,
    }


async def _admin(config: dict[str, Any]) -> AsyncIterator[Admin]:
    gateway = Gateway(config)
    assert gateway.config is not None
    authenticator = build_authenticator(gateway.config.server)
    state = ServerState(gateway=gateway, config=gateway.config.server, authenticator=authenticator)
    app = Starlette(routes=[Mount("/admin", routes=admin_routes(state))])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://proxy") as http:
        yield Admin(http, gateway, authenticator)
    await authenticator.aclose()
    await gateway.aclose()


@pytest.fixture
async def admin(tmp_path: Path) -> AsyncIterator[Admin]:
    async for made in _admin(_config(tmp_path)):
        yield made


async def test_create_show_list_update_revoke(admin: Admin) -> None:
    body = {
        "name": "app",
        "team": "research",
        "models": ["chat"],
        "rpm": 60,
        "budget": {"hard": "5", "soft": "4.5", "period": "day"},
        "expires_in_days": 7,
        "metadata": {"ticket": 12},
    }
    created = await admin.http.post("/admin/keys", json=body, headers=ADMIN)
    assert created.status_code == 201, created.text
    data = created.json()
    key, key_id = data["key"], data["id"]
    assert key.startswith(f"sk-llmgw-{key_id}-") and data["status"] == "active"
    assert data["budget"] == {"hard": "5", "soft": "4.5", "period": "day", "currency": "USD"}
    assert data["metadata"] == {"ticket": 12} and data["expires_at"] is not None

    shown = (await admin.http.get(f"/admin/keys/{key_id}", headers=ADMIN)).json()
    assert shown == {k: v for k, v in data.items() if k != "key"}
    assert "secret_hash" not in shown and key.rsplit("-", 1)[-1] not in str(shown)
    listed = (await admin.http.get("/admin/keys", headers=ADMIN)).json()
    assert [k["id"] for k in listed["data"]] == [key_id] and "key" not in listed["data"][0]

    principal = await admin.authenticator.authenticate(f"Bearer {key}")
    assert principal.caller.limits is not None and principal.caller.limits.rpm == 60
    patched = await admin.http.patch(
        f"/admin/keys/{key_id}", json={"rpm": 120, "models": [], "expires_at": None}, headers=ADMIN
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["rpm"], patched.json()["models"], patched.json()["expires_at"]) == (120, [], None)
    # This process's cache is refreshed at once.
    principal = await admin.authenticator.authenticate(f"Bearer {key}")
    assert principal.caller.limits is not None and principal.caller.limits.rpm == 120
    assert principal.models is None

    revoked = await admin.http.delete(f"/admin/keys/{key_id}", headers=ADMIN)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    refused = await admin.http.get("/admin/keys", headers={"Authorization": f"Bearer {key}"})
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "key_revoked"
    assert (await admin.http.get("/admin/keys", headers=ADMIN)).json()["data"] == []
    everything = await admin.http.get("/admin/keys?include_revoked=true", headers=ADMIN)
    assert [k["status"] for k in everything.json()["data"]] == ["revoked"]


async def test_only_the_master_key_may_use_the_admin_api(admin: Admin) -> None:
    created = await admin.http.post("/admin/keys", json={"name": "k"}, headers=ADMIN)
    virtual = {"Authorization": f"Bearer {created.json()['key']}"}
    for method, path in [("GET", "/admin/keys"), ("POST", "/admin/keys"), ("DELETE", "/admin/keys/x")]:
        none = await admin.http.request(method, path)
        assert none.status_code == 401 and none.json()["error"]["type"] == "authentication_error"
        denied = await admin.http.request(method, path, headers=virtual, json={"name": "x"})
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "master_key_required"
        wrong = await admin.http.request(method, path, headers={"Authorization": "Bearer wrong-master-key"})
        assert wrong.status_code == 401


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, "name"),
        ({"name": "k", "rpm": -1}, "rpm"),
        ({"name": "k", "models": ["nope"]}, "unknown model(s) 'nope'; this gateway serves chat, embed"),
        ({"name": "k", "budget": {"hard": 1, "soft": 2}}, "budget.soft (2) must be below"),
        ({"name": "k", "budget": {"hard": "x"}}, "budget.hard"),
        ({"name": "k", "expires_in_days": 1, "expires_at": "2030-01-01T00:00:00Z"}, "not both"),
        ({"name": "k", "colour": "red"}, "colour"),
    ],
)
async def test_bad_bodies_get_clear_400s(admin: Admin, body: dict[str, Any], words: str) -> None:
    answer = await admin.http.post("/admin/keys", json=body, headers=ADMIN)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert words in error["message"] and error["type"] == "invalid_request_error"


async def test_not_json_unknown_ids_and_no_store(admin: Admin, tmp_path: Path) -> None:
    answer = await admin.http.post("/admin/keys", content=b"{nope", headers=ADMIN)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_json"
    answer = await admin.http.post("/admin/keys", json=["name"], headers=ADMIN)
    assert answer.status_code == 400
    for path in ("/admin/keys/aaaaaaaaaaaa", "/admin/keys/NOT-AN-ID", "/admin/keys/aaaaaaaaaaaa/usage"):
        assert (await admin.http.get(path, headers=ADMIN)).status_code == 404
    assert (await admin.http.delete("/admin/keys/aaaaaaaaaaaa", headers=ADMIN)).status_code == 404
    patch = await admin.http.patch("/admin/keys/aaaaaaaaaaaa", json={"name": "n"}, headers=ADMIN)
    assert patch.status_code == 404
    async for master_only in _admin(_config(tmp_path / "b", keys=False)):
        assert isinstance(master_only.authenticator, MasterKeyAuthenticator)
        answer = await master_only.http.get("/admin/keys", headers=ADMIN)
        assert answer.status_code == 404 and "server.keys" in answer.json()["error"]["message"]


async def test_usage_of_a_key_from_the_ledger(admin: Admin) -> None:
    created = (await admin.http.post("/admin/keys", json={"name": "k"}, headers=ADMIN)).json()
    principal = await admin.authenticator.authenticate(f"Bearer {created['key']}")
    messages = [{"role": "user", "content": "hello"}]
    for _ in range(3):
        await admin.gateway.chat.completions.create(model="chat", messages=messages, caller=principal.caller)
    await admin.gateway.chat.completions.create(model="chat", messages=messages)  # someone else
    answer = await admin.http.get(f"/admin/keys/{created['id']}/usage", headers=ADMIN)
    assert answer.status_code == 200, answer.text
    (row,) = answer.json()["data"]
    assert row["model"] == "chat" and row["calls"] == 3 and row["currency"] == "USD"
    assert float(row["cost"]) > 0 and row["prompt_tokens"] > 0
    assert isinstance(admin.authenticator, KeyAuthenticator)
