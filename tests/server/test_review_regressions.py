"""Regressions found in review: an upstream's refusal is not passed off as the client's, bad
admin input is a 400 (never a 500), 401s say how to authenticate, and cached answers stay within
their key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.harness import MASTER_KEY, RunningServer, mock_config

ADMIN = {"Authorization": f"Bearer {MASTER_KEY}"}
HELLO = {"messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("keys") / "keys.sqlite"
    config = mock_config(keys={"backend": "sqlite", "path": str(path)})
    config["models"]["refusing"] = {
        "deployments": [
            {
                "name": "mock-refusing",
                "provider": "mock",
                "settings": {"script": [{"fault": "error", "status": 401}], "repeat": True},
            }
        ]
    }
    config["cache"] = {"backend": "memory"}
    with RunningServer(config) as running:
        yield running


def test_an_upstream_401_is_a_502_that_names_the_deployment(keyed: RunningServer) -> None:
    answer = httpx.post(
        f"{keyed.url}/v1/chat/completions", headers=ADMIN, json={"model": "refusing", **HELLO}
    )
    assert answer.status_code == 502
    error = answer.json()["error"]
    assert error["code"] == "upstream_refused" and "mock-refusing" in error["message"]


def test_a_missing_key_gets_401_with_www_authenticate(keyed: RunningServer) -> None:
    answer = httpx.post(f"{keyed.url}/v1/chat/completions", json={"model": "chat", **HELLO})
    assert answer.status_code == 401 and answer.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "body",
    [
        '{"name": "x", "rpm": 1e400}',
        '{"name": "x", "tpm": NaN}',
        '{"name": "x", "expires_at": "0001-01-01T00:00:00+14:00"}',
        '{"name": "x", "expires_at": "9999-12-31T23:59:59-14:00"}',
        "[" * 1500 + "]" * 1500,
    ],
)
def test_bad_admin_input_is_a_400(keyed: RunningServer, body: str) -> None:
    answer = httpx.post(
        f"{keyed.url}/admin/keys", headers={**ADMIN, "content-type": "application/json"}, content=body
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["type"] == "invalid_request_error"


def test_cached_answers_stay_within_their_key(keyed: RunningServer, tmp_path: Path) -> None:
    keys = [
        httpx.post(f"{keyed.url}/admin/keys", headers=ADMIN, json={"name": f"tenant-{i}"}).json()["key"]
        for i in range(2)
    ]
    request = {
        "model": "chat",
        "temperature": 0,
        "messages": [{"role": "user", "content": "private question"}],
    }

    def cache_status(key: str) -> str:
        answer = httpx.post(
            f"{keyed.url}/v1/chat/completions", headers={"Authorization": f"Bearer {key}"}, json=request
        )
        assert answer.status_code == 200
        return answer.headers["x-llmgateway-cache"]

    assert cache_status(keys[0]) == "miss"
    assert cache_status(keys[0]) == "hit"
    assert cache_status(keys[1]) == "miss"  # the other tenant's answer is not served


def test_metrics_can_require_the_master_key() -> None:
    with RunningServer(mock_config(metrics_need_key=True)) as running:
        assert httpx.get(f"{running.url}/metrics").status_code == 401
        answer = httpx.get(f"{running.url}/metrics", headers=ADMIN)
        assert answer.status_code == 200 and "llmgateway_requests_total" in answer.text
