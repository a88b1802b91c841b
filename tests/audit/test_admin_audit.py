"""The admin API records every key change in the gateway's audit log (actor "master", with the
request id and source address), never the key's secret; GET /admin/audit lists and filters."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from llmgateway.audit import AuditLog
from llmgateway.client import Gateway
from llmgateway.server.admin import admin_routes
from llmgateway.server.auth import build_authenticator
from llmgateway.server.state import ServerState

MASTER_KEY = "master-key-0123456789"
ADMIN = {"Authorization": f"Bearer {MASTER_KEY}"}


@dataclass
class Admin:
    http: httpx.AsyncClient
    audit: AuditLog


def _config(tmp_path: Path, *, keys: bool = True, audit: dict[str, Any] | None = None) -> dict[str, Any]:
    server: dict[str, Any] = {"master_key": MASTER_KEY}
    if keys:
        server["keys"] = {"backend": "sqlite", "path": str(tmp_path / "keys.sqlite")}
    config: dict[str, Any] = {"models": {"chat": {"deployments": [{"provider": "mock"}]}}, "server": server}
    if audit is not None:
        config["audit"] = audit
    return config


async def _admin(config: dict[str, Any]) -> AsyncIterator[Admin]:
    gateway = Gateway(config)
    assert gateway.config is not None
    authenticator = build_authenticator(gateway.config.server)
    state = ServerState(gateway=gateway, config=gateway.config.server, authenticator=authenticator)
    app = Starlette(routes=[Mount("/admin", routes=admin_routes(state))])
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 4711))
    async with httpx.AsyncClient(transport=transport, base_url="http://proxy") as http:
        yield Admin(http, gateway.audit)
    await authenticator.aclose()
    await gateway.aclose()


@pytest.fixture
async def admin(tmp_path: Path) -> AsyncIterator[Admin]:
    async for made in _admin(_config(tmp_path)):
        yield made


async def _audit(admin: Admin, **params: Any) -> httpx.Response:
    return await admin.http.get("/admin/audit", params=params, headers=ADMIN)


async def test_key_changes_are_audited_without_the_secret(
    admin: Admin, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="llmgateway.audit"):
        created = await admin.http.post(
            "/admin/keys",
            json={"name": "app", "budget": {"hard": "5"}, "pii": "redact"},
            headers={**ADMIN, "X-Request-ID": "req-create"},
        )
        assert created.status_code == 201, created.text
        key, key_id = created.json()["key"], created.json()["id"]
        secret = key.rsplit("-", 1)[1]
        assert created.json()["pii"] == "redact"

        changed = await admin.http.patch(
            f"/admin/keys/{key_id}",
            json={"name": "app2", "budget": {"hard": "7", "soft": "6"}},
            headers=ADMIN,
        )
        assert changed.status_code == 200, changed.text
        same = await admin.http.patch(f"/admin/keys/{key_id}", json={"rpm": 30}, headers=ADMIN)
        assert same.status_code == 200
        cleared = await admin.http.patch(
            f"/admin/keys/{key_id}", json={"budget": None, "pii": "block"}, headers=ADMIN
        )
        assert cleared.json()["pii"] == "block" and cleared.json()["budget"] is None
        assert (await admin.http.delete(f"/admin/keys/{key_id}", headers=ADMIN)).status_code == 200
        assert (await admin.http.delete(f"/admin/keys/{key_id}", headers=ADMIN)).status_code == 200

    listed = await _audit(admin)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["object"] == "list" and body["stored"] is True
    entries = list(reversed(body["data"]))  # oldest first from here on
    assert [(e["action"], e["outcome"]) for e in entries] == [
        ("key.created", "ok"),
        ("key.budget_changed", "ok"),
        ("key.pii_changed", "ok"),
        ("key.updated", "ok"),
        ("key.budget_changed", "ok"),
        ("key.updated", "ok"),
        ("key.updated", "ok"),
        ("key.budget_changed", "ok"),
        ("key.pii_changed", "ok"),
        ("key.revoked", "ok"),
        ("key.revoked", "unchanged"),
    ]
    assert all(e["actor"] == "master" and e["target"] == key_id for e in entries)
    assert all(e["source"] == "203.0.113.9" for e in entries)
    assert [e["request_id"] for e in entries[:3]] == ["req-create"] * 3 and entries[3]["request_id"] is None
    assert entries[0]["details"]["name"] == "app" and entries[0]["details"]["pii"] == "redact"
    budget_5 = {"hard": "5", "soft": None, "period": "month", "currency": "USD"}
    budget_7 = {"hard": "7", "soft": "6", "period": "month", "currency": "USD"}
    assert entries[1]["details"] == {"old": None, "new": budget_5}
    assert entries[2]["details"] == {"old": None, "new": "redact"}
    assert entries[3]["details"] == {"name": "app2", "budget": budget_7}
    assert entries[4]["details"] == {"old": budget_5, "new": budget_7}
    assert entries[5]["details"] == {"rpm": 30}
    assert entries[6]["details"] == {"budget": None, "pii": "block"}
    assert entries[7]["details"] == {"old": budget_7, "new": None}
    assert entries[8]["details"] == {"old": "redact", "new": "block"}
    assert entries[9]["details"]["revoked_at"] is not None

    # Neither the key nor its secret nor its hash is in any entry or log line.
    everything = listed.text + "\n".join(record.getMessage() for record in caplog.records)
    assert key not in everything and secret not in everything and "secret_hash" not in everything
    assert len([r for r in caplog.records if r.name == "llmgateway.audit"]) == len(entries)
    # The store is the key store's own SQLite file.
    assert len(await admin.audit.query(target=key_id)) == len(entries)


async def test_audit_filters(admin: Admin) -> None:
    ids = []
    for name in ("a", "b"):
        created = await admin.http.post("/admin/keys", json={"name": name}, headers=ADMIN)
        ids.append(created.json()["id"])
    await admin.http.delete(f"/admin/keys/{ids[0]}", headers=ADMIN)

    def actions(response: httpx.Response) -> list[tuple[str, str]]:
        assert response.status_code == 200, response.text
        return [(e["action"], e["target"]) for e in response.json()["data"]]

    assert actions(await _audit(admin)) == [
        ("key.revoked", ids[0]),
        ("key.created", ids[1]),
        ("key.created", ids[0]),
    ]
    assert actions(await _audit(admin, action="key.created")) == [
        ("key.created", ids[1]),
        ("key.created", ids[0]),
    ]
    assert actions(await _audit(admin, target=ids[0])) == [("key.revoked", ids[0]), ("key.created", ids[0])]
    assert actions(await _audit(admin, limit=1)) == [("key.revoked", ids[0])]
    assert actions(await _audit(admin, actor="cli:nobody")) == []
    assert len(actions(await _audit(admin, actor="master"))) == 3
    hour_ago = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    assert len(actions(await _audit(admin, since=hour_ago))) == 3
    assert actions(await _audit(admin, until=hour_ago)) == []
    assert len(actions(await _audit(admin, since="2000-01-01", until="2999-01-01T00:00:00Z"))) == 3


@pytest.mark.parametrize(
    ("params", "param", "words"),
    [
        ({"limit": "0"}, "limit", "from 1 to 1000"),
        ({"limit": "1001"}, "limit", "from 1 to 1000"),
        ({"limit": "ten"}, "limit", "from 1 to 1000"),
        ({"since": "yesterday"}, "since", "not an ISO 8601 time"),
        ({"until": "2026-13-01"}, "until", "not an ISO 8601 time"),
        ({"targets": "x"}, "targets", "unknown parameter(s) targets"),
        ({"action": ""}, "action", "action is empty"),
    ],
)
async def test_bad_audit_parameters(admin: Admin, params: dict[str, str], param: str, words: str) -> None:
    response = await _audit(admin, **params)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param and words in error["message"]


async def test_audit_needs_the_master_key(admin: Admin) -> None:
    created = await admin.http.post("/admin/keys", json={"name": "k"}, headers=ADMIN)
    key = created.json()["key"]
    assert (await admin.http.get("/admin/audit")).status_code == 401
    assert (
        await admin.http.get("/admin/audit", headers={"Authorization": f"Bearer {key}"})
    ).status_code == 403


async def test_failed_changes_are_not_audited(admin: Admin) -> None:
    assert (await admin.http.post("/admin/keys", json={"name": ""}, headers=ADMIN)).status_code == 400
    assert (
        await admin.http.patch("/admin/keys/aaaaaaaaaaaa", json={"rpm": 1}, headers=ADMIN)
    ).status_code == 404
    assert (await admin.http.delete("/admin/keys/aaaaaaaaaaaa", headers=ADMIN)).status_code == 404
    assert (await _audit(admin)).json()["data"] == []


async def test_without_a_store_the_audit_says_so(tmp_path: Path) -> None:
    async for admin in _admin(_config(tmp_path, keys=False)):
        response = await _audit(admin)
        assert response.status_code == 200
        body = response.json()
        assert body["stored"] is False and body["data"] == [] and "not stored" in body["note"]


async def test_an_audit_section_of_its_own(tmp_path: Path, postgres_dsn: str) -> None:
    """audit: {backend: postgres} while the keys stay in SQLite."""
    config = _config(tmp_path, audit={"backend": "postgres", "dsn": postgres_dsn, "table": "admin_audit"})
    async for admin in _admin(config):
        created = await admin.http.post("/admin/keys", json={"name": "pg"}, headers=ADMIN)
        data = (await _audit(admin)).json()["data"]
        assert [(e["action"], e["target"]) for e in data] == [("key.created", created.json()["id"])]
    import asyncpg

    connection = await asyncpg.connect(postgres_dsn)
    try:
        assert await connection.fetchval("SELECT count(*) FROM admin_audit") == 1
    finally:
        await connection.close()
