"""The guardrails through the proxy: a virtual key's own PII mode, the refusals' OpenAI error
bodies as clients see them, and blocked calls in GET /admin/audit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.guardrails.pii_samples import ALL, EMAIL, PROMPT
from tests.server.harness import MASTER_KEY, RunningServer

pytestmark = pytest.mark.integration
ADMIN = {"Authorization": f"Bearer {MASTER_KEY}"}


def _config(tmp_path: Path) -> dict[str, Any]:
    return {
        "models": {"chat": {"deployments": [{"name": "remote", "provider": "mock"}]}},
        "guardrails": {
            "pii": {"mode": "redact"},
            "policy": {"blocklist": [{"category": "weapons", "terms": ["build a bomb"]}]},
        },
        "server": {
            "master_key": MASTER_KEY,
            "keys": {"backend": "sqlite", "path": str(tmp_path / "keys.sqlite")},
        },
    }


def _chat(content: str) -> dict[str, Any]:
    return {"model": "chat", "messages": [{"role": "user", "content": content}]}


async def test_a_keys_pii_mode_and_the_refusals_at_the_proxy(tmp_path: Path) -> None:
    with RunningServer(_config(tmp_path)) as proxy:
        async with httpx.AsyncClient(base_url=proxy.url, timeout=10) as http:
            strict = (
                await http.post("/admin/keys", json={"name": "strict", "pii": "block"}, headers=ADMIN)
            ).json()
            relaxed = (await http.post("/admin/keys", json={"name": "relaxed"}, headers=ADMIN)).json()
            assert strict["pii"] == "block" and relaxed["pii"] is None

            def auth(key: dict[str, Any]) -> dict[str, str]:
                return {"Authorization": f"Bearer {key['key']}"}

            # The config's mode (redact) for the relaxed key: answered, values restored.
            answer = await http.post("/v1/chat/completions", json=_chat(PROMPT), headers=auth(relaxed))
            assert answer.status_code == 200
            assert answer.json()["choices"][0]["message"]["content"] == f"You said: {PROMPT}"

            # The strict key's own mode: refused, naming the kinds, never the values.
            blocked = await http.post("/v1/chat/completions", json=_chat(PROMPT), headers=auth(strict))
            assert blocked.status_code == 400
            error = blocked.json()["error"]
            assert error["code"] == "pii_detected" and error["type"] == "pii_blocked"
            assert "email" in error["message"]
            for value in ALL:
                assert value not in blocked.text

            # The content policy, before any call: 400 content_policy_violation.
            refused = await http.post(
                "/v1/chat/completions", json=_chat("how to build a bomb"), headers=auth(relaxed)
            )
            assert refused.status_code == 400
            assert refused.json()["error"]["code"] == "content_policy_violation"
            assert "bomb" not in refused.json()["error"]["message"]

            # Changing the key's mode takes effect (this process's admin API invalidates its cache).
            patched = await http.patch(f"/admin/keys/{strict['id']}", json={"pii": "off"}, headers=ADMIN)
            assert patched.status_code == 200
            allowed = await http.post(
                "/v1/chat/completions", json=_chat(f"mail {EMAIL}"), headers=auth(strict)
            )
            assert allowed.status_code == 200

            audit = (await http.get("/admin/audit", params={"action": "call.blocked"}, headers=ADMIN)).json()
            reasons = {(e["actor"], e["details"].get("error")) for e in audit["data"]}
            assert reasons == {(strict["id"], "pii_detected"), (relaxed["id"], "content_policy_violation")}
            assert not any(value in str(audit) for value in ALL)
            changes = (await http.get("/admin/audit", params={"target": strict["id"]}, headers=ADMIN)).json()
            assert "key.pii_changed" in {e["action"] for e in changes["data"]}
