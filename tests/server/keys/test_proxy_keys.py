"""Virtual keys through the real proxy (uvicorn on localhost): created with the admin API, used on
the public routes, refused for other models, over their rpm, and after revocation."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.server.harness import MASTER_KEY, RunningServer, mock_config

ADMIN = {"Authorization": f"Bearer {MASTER_KEY}"}
HELLO = [{"role": "user", "content": "hi"}]


def test_a_virtual_key_on_the_public_routes(tmp_path: Path) -> None:
    keys = {"backend": "sqlite", "path": str(tmp_path / "keys.sqlite"), "cache_seconds": 60}
    with RunningServer(mock_config(keys=keys)) as server, httpx.Client(base_url=server.url) as http:
        created = http.post("/admin/keys", json={"name": "app", "models": ["chat"], "rpm": 1}, headers=ADMIN)
        assert created.status_code == 201, created.text
        user = {"Authorization": f"Bearer {created.json()['key']}"}
        ok = http.post("/v1/chat/completions", json={"model": "chat", "messages": HELLO}, headers=user)
        assert ok.status_code == 200, ok.text
        other = http.post("/v1/chat/completions", json={"model": "other", "messages": HELLO}, headers=user)
        assert other.status_code in (403, 404), other.text
        again = http.post("/v1/chat/completions", json={"model": "chat", "messages": HELLO}, headers=user)
        assert again.status_code == 429, again.text
        assert http.get("/admin/keys", headers=user).status_code == 403
        assert http.delete(f"/admin/keys/{created.json()['id']}", headers=ADMIN).status_code == 200
        # Revoked through this process's admin API: refused at once despite cache_seconds 60.
        gone = http.post("/v1/chat/completions", json={"model": "chat", "messages": HELLO}, headers=user)
        assert gone.status_code == 401 and gone.json()["error"]["code"] == "key_revoked"
