"""No secret of the config ever leaves the proxy: not in answers (plain, streamed, errors), not in
logs (DEBUG, with tracebacks), not in /metrics, not on the dashboard, even when upstreams echo the
credentials they were sent, fail with them in the body, or hang up."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from llmgateway.secret_scrub import SecretScrubber, install
from tests.server.harness import MASTER_KEY, RunningServer

SK_KEY = "sk-proj-OPENAI0secret0value0001"
PLAIN_KEY = "zebra-unicorn-secret-value-42"  # shaped like nothing: only the config knows it
HEADER_SECRET = "header-secret-value-HHH"
QUERY_SECRET = "query-secret-value-QQQ"
USERINFO_PASSWORD = "userinfo-password-UUU"
AWS_ACCESS_KEY = "AKIAZZZZ0000SECRET00"
AWS_SECRET_KEY = "aws-secret-access-key-SSS123"
AWS_SESSION_TOKEN = "aws-session-token-TTT456"
VERTEX_TOKEN = "vertex-access-token-VVV789"
PG_PASSWORD = "pg-password-PPP000"
SECRETS = [
    SK_KEY, PLAIN_KEY, HEADER_SECRET, QUERY_SECRET, USERINFO_PASSWORD, AWS_ACCESS_KEY,
    AWS_SECRET_KEY, AWS_SESSION_TOKEN, VERTEX_TOKEN, PG_PASSWORD, MASTER_KEY,
]  # fmt: skip


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One request per connection. /echo401 and /echo500 quote every credential header they got
    (as OpenAI quotes a wrong key); /close hangs up without a word."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        path = lines[0].split(" ")[1]
        headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:] if h)}
        await reader.readexactly(int(headers.get("content-length", "0")))
        if path.startswith("/close"):
            return
        said = " ".join(
            headers.get(name, "") for name in ("authorization", "x-api-key", "x-amz-security-token")
        ).replace("Bearer ", "")
        status = 401 if path.startswith("/echo401") else 500
        message = f"Incorrect API key provided: {said}. Also: {said}"
        body = json.dumps(
            {"error": {"message": message, "code": status, "status": "INTERNAL"}, "message": message}
        ).encode()
        writer.write(
            b"HTTP/1.1 %d Error\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n%s" % (status, len(body), body)
        )
        await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


@pytest.fixture
async def fault_url() -> AsyncIterator[str]:
    server = await asyncio.start_server(_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


def _model(provider: str, settings: dict[str, Any]) -> dict[str, Any]:
    return {
        "routing": {"retry": {"max_rounds": 1}},
        "deployments": [{"provider": provider, "settings": settings, "timeout": 10}],
    }


def secret_config(fault: str, upstream: str, dsn: str, tmp_path: Path) -> dict[str, Any]:
    aws = {"access_key_id": AWS_ACCESS_KEY, "secret_access_key": AWS_SECRET_KEY}
    aws |= {"session_token": AWS_SESSION_TOKEN, "region": "us-east-1", "endpoint_name": "ep"}
    vertex = {"project": "my-project", "endpoint": "123", "access_token": VERTEX_TOKEN}
    return {
        "models": {
            "ok": _model("openai", {"base_url": upstream, "api_key": PLAIN_KEY}),
            "oa401": _model("openai", {"base_url": f"http://{fault}/echo401/v1", "api_key": SK_KEY}),
            "oa500": _model(
                "openai",
                {
                    "base_url": f"http://{fault}/echo500/v1",
                    "api_key": PLAIN_KEY,
                    "headers": {"X-Api-Key": HEADER_SECRET},
                },
            ),
            "oaclose": _model(
                "openai",
                {
                    "base_url": f"http://user:{USERINFO_PASSWORD}@{fault}/close/v1",
                    "query": {"key": QUERY_SECRET},
                },
            ),
            "oadown": _model("openai", {"base_url": "http://127.0.0.1:9/v1", "query": {"key": QUERY_SECRET}}),
            "sm401": _model("sagemaker", {**aws, "endpoint_url": f"http://{fault}/echo401"}),
            "sm500": _model("sagemaker", {**aws, "endpoint_url": f"http://{fault}/echo500"}),
            "vx401": _model("vertex", {**vertex, "api_endpoint": f"http://{fault}/echo401"}),
            "vx500": _model("vertex", {**vertex, "api_endpoint": f"http://{fault}/echo500"}),
        },
        "ledger": {"backend": "postgres", "dsn": dsn, "flush_interval": 0.05},
        "shutdown": {"drain_seconds": 1},
        "server": {
            "master_key": MASTER_KEY,
            "keys": {"backend": "sqlite", "path": str(tmp_path / "keys.sqlite")},
        },
    }


def with_password(dsn: str) -> str:
    """The test database trusts every local connection, so a password in the DSN is accepted."""
    scheme, _, rest = dsn.partition("://")
    user, _, host = rest.partition("@")
    return f"{scheme}://{user}:{PG_PASSWORD}@{host}"


def _seen(response: httpx.Response) -> str:
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.multi_items())
    return f"{response.request.url}\n{response.status_code}\n{headers}\n{response.text}"


async def _api_calls(client: httpx.AsyncClient, seen: list[str]) -> dict[str, str]:
    auth = {"authorization": f"Bearer {MASTER_KEY}"}
    chat = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}
    answers: dict[str, str] = {}
    for model in ("ok", "oa401", "oa500", "oaclose", "oadown", "sm401", "sm500", "vx401", "vx500"):
        for path, body in (
            ("/v1/chat/completions", {**chat, "model": model}),
            ("/v1/chat/completions", {**chat, "model": model, "stream": True}),
            ("/v1/completions", {"model": model, "prompt": "hi", "max_tokens": 8}),
            ("/v1/embeddings", {"model": model, "input": "hi"}),
        ):
            response = await client.post(path, json=body, headers=auth)
            seen.append(_seen(response))
            answers[f"{model} {path} {body.get('stream', False)}"] = response.text
    others: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", "/admin/keys/no-such-key", None),
        ("POST", "/admin/keys", {"models": 5}),
        ("PATCH", "/admin/keys/no-such-key", {"rpm": "x"}),
        ("GET", "/v1/models", None),
        ("GET", "/health/ready", None),
        ("GET", "/no/such/route", None),
    ]
    for method, path, extra in others:
        seen.append(_seen(await client.request(method, path, json=extra, headers=auth)))
    seen.append(
        _seen(await client.post("/v1/chat/completions", json=chat, headers={"authorization": "Bearer x"}))
    )
    return answers


async def _dashboard(client: httpx.AsyncClient, seen: list[str]) -> None:
    seen.append(_seen(await client.get("/ui/login")))
    login = await client.post("/ui/login", data={"key": MASTER_KEY})
    assert login.status_code == 303, login.text
    seen.append(_seen(login))
    via_query = await client.get("/ui/", params={"key": MASTER_KEY})
    seen.append(_seen(via_query).replace(str(via_query.request.url), ""))  # the URL is ours
    for path in ("/ui/", "/ui/static/dashboard.js", "/ui/static/dashboard.css", "/ui/static/index.html"):
        seen.append(_seen(await client.get(path)))
    await asyncio.sleep(0.3)  # the ledger's batch is written
    for api in ("summary", "timeseries?group=deployment", "timeseries?group=key", "deployments", "recent"):
        response = await client.get(f"/ui/api/{api}")
        assert response.status_code == 200, response.text
        seen.append(_seen(response))


async def test_no_secret_leaves_the_proxy(
    fault_url: str, upstream_url: str, postgres_dsn: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    calls = logging.getLogger("llmgateway.calls")
    seen: list[str] = []
    with ExitStack() as stack:
        calls.addHandler(caplog.handler)  # in case this process's call log stopped propagating
        stack.callback(calls.removeHandler, caplog.handler)
        config = secret_config(fault_url, upstream_url, with_password(postgres_dsn), tmp_path)
        with RunningServer(config) as server:
            # What `llmgateway serve` does for its process (botocore logs a signed request's
            # session token at DEBUG: only the log filter can take it out).
            assert server.state.gateway.config is not None
            uninstall = install(SecretScrubber.from_config(server.state.gateway.config))
            stack.callback(uninstall)
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
                answers = await _api_calls(client, seen)
                seen.append(_seen(await client.get("/metrics")))
                await _dashboard(client, seen)
    formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
    seen.extend(formatter.format(record) for record in caplog.records)

    # The faults really happened and really carried the secrets (else this test proves nothing).
    assert '"content"' in answers["ok /v1/chat/completions False"]
    for model in ("oa500", "sm500", "vx500"):
        assert "[REDACTED]" in answers[f"{model} /v1/chat/completions False"], answers
    assert any("refused the gateway" in line and "[REDACTED]" in line for line in seen)
    leaks = [_around(text, secret) for secret in SECRETS for text in seen if secret in text]
    assert leaks == [], "\n".join(leaks)


def _around(text: str, secret: str) -> str:
    """Where a secret showed up: the first line (what emitted it) and the text around it."""
    at = text.index(secret)
    return f"{text.splitlines()[0][:120]} ... {text[max(0, at - 200) : at + len(secret) + 40]!r}"
