"""End to end: a client calls the proxy with PII; the remote (OpenAI-compatible) deployment, a
real HTTP server on localhost, never receives the original values; the client's answer has them
back. The upstream echoes what it got, streamed three characters per chunk, so placeholders
arrive split across chunks. Neither the proxy's logs (prompts logged) nor the ledger hold them."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from tests.asgi_server import serving
from tests.guardrails.pii_samples import ALL, PROMPT
from tests.server.harness import MASTER_KEY, RunningServer

pytestmark = pytest.mark.integration


def _echo_upstream(received: list[dict[str, Any]]) -> Any:
    """An OpenAI-compatible server that answers each chat with the last user message it got."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    async def chat(request: Request) -> Response:
        body = await request.json()
        received.append(body)
        text = "You said: " + body["messages"][-1]["content"]
        usage = {"prompt_tokens": 40, "completion_tokens": 30, "total_tokens": 70}
        if not body.get("stream"):
            return JSONResponse(
                {
                    "id": "c1",
                    "object": "chat.completion",
                    "created": 0,
                    "model": "echo",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": usage,
                }
            )

        async def events() -> Any:
            def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
                choices = [{"index": 0, "delta": delta, "finish_reason": finish}] if delta or finish else []
                payload = {
                    "id": "c1",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": "echo",
                    "choices": choices,
                    **extra,
                }
                return f"data: {json.dumps(payload)}\n\n"

            yield chunk({"role": "assistant", "content": ""})
            for start in range(0, len(text), 3):
                yield chunk({"content": text[start : start + 3]})
            yield chunk({}, "stop")
            yield chunk({}, usage=usage)
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


async def test_remote_deployment_never_sees_pii_and_the_caller_gets_it_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from openai import AsyncOpenAI

    received: list[dict[str, Any]] = []
    caplog.set_level(logging.DEBUG)
    ledger = tmp_path / "ledger.sqlite"
    async with serving(_echo_upstream(received)) as upstream:
        config = {
            "models": {
                "chat": {
                    "deployments": [
                        {
                            "name": "cloud",
                            "provider": "openai",
                            "settings": {"base_url": f"{upstream}/v1", "api_key": "up-key-0123456789"},
                        }
                    ]
                }
            },
            "guardrails": {"pii": {"mode": "redact"}},
            "ledger": {"backend": "sqlite", "path": str(ledger)},
            "audit": {"backend": "memory"},
            "server": {"master_key": MASTER_KEY, "log_prompts": True},
        }
        with RunningServer(config) as proxy:
            client = AsyncOpenAI(base_url=f"{proxy.url}/v1", api_key=MASTER_KEY, max_retries=0)
            messages: Any = [{"role": "user", "content": PROMPT}]
            plain = await client.chat.completions.create(model="chat", messages=messages)
            stream = await client.chat.completions.create(model="chat", messages=messages, stream=True)
            streamed = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
            await client.close()

    assert len(received) == 2
    sent = json.dumps(received)
    for value in ALL:
        assert value not in sent, f"{value!r} reached the remote deployment"
    for placeholder in ("<EMAIL_1>", "<PHONE_1>", "<CARD_1>", "<IBAN_1>", "<IP_1>", "<SECRET_1>"):
        assert placeholder in received[0]["messages"][-1]["content"]
    assert plain.choices[0].message.content == f"You said: {PROMPT}"
    assert streamed == f"You said: {PROMPT}"

    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "<EMAIL_1>" in logged  # the prompt was logged, with placeholders
    for value in ALL:
        assert value not in logged, f"{value!r} was logged"
    stored = ledger.read_bytes()
    for value in ALL:
        assert value.encode() not in stored
