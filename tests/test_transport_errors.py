"""Connection errors name the upstream without its query string or userinfo: either may hold a
credential (``?code=``, ``user:password@``), and the message reaches the client."""

from __future__ import annotations

import aiohttp
import httpx
import pytest

from llmgateway.errors import APIConnectionError
from llmgateway.transport import AiohttpSender, HttpxSender
from tests.server.harness import free_port

SECRET = "FuncKeyS3cr3tValue"


@pytest.mark.parametrize("kind", ["httpx", "aiohttp"])
async def test_unreachable_upstream_error_keeps_no_credential(kind: str) -> None:
    url = f"http://user:{SECRET}@127.0.0.1:{free_port()}/api/chat?code={SECRET}&api-version=1"
    if kind == "httpx":
        async with httpx.AsyncClient() as client:
            with pytest.raises(APIConnectionError) as caught:
                await HttpxSender(client).post(url, b"{}", {}, 2.0)
    else:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(APIConnectionError) as caught:
                await AiohttpSender(session).post(url, b"{}", {}, 2.0)
    message = str(caught.value)
    assert SECRET not in message and "could not reach http://127.0.0.1:" in message
    assert "/api/chat" in message
