"""The OpenAI-compatible provider against a real HTTP server on localhost, through the default
(aiohttp fast path) client and through a user's httpx client."""

from __future__ import annotations

import socket

import httpx
import pytest

from llmgateway import APIConnectionError, Gateway
from tests.payloads import USER

pytestmark = pytest.mark.integration


def config(base_url: str, *extra: dict[str, object]) -> dict[str, object]:
    deployments = [*extra, {"name": "live", "provider": "openai", "settings": {"base_url": base_url}}]
    return {
        "models": {
            "chat": {"deployments": deployments},
            "embed": {
                "deployments": [
                    {"name": "live-embed", "provider": "openai", "settings": {"base_url": base_url}}
                ]
            },
        }
    }


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once the socket closes


@pytest.mark.parametrize("own_client", [False, True])
async def test_chat_stream_embeddings_live(upstream_url: str, own_client: bool) -> None:
    client = httpx.AsyncClient() if own_client else None
    async with Gateway(config(upstream_url), http_client=client) as gw:
        reply = await gw.chat.completions.create(model="chat", messages=USER)
        assert "Paris" in reply.text() and reply.usage is not None and reply.usage.total_tokens == 20
        stream = await gw.chat.completions.create(model="chat", messages=USER, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        assert text == reply.text()
        assert stream.gateway is not None and not stream.gateway.cost.estimated
        embedded = await gw.embeddings.create(model="embed", input="x")
        assert embedded.data[0].embedding == [0.1, 0.2, 0.3, 0.4]
    if client is not None:
        await client.aclose()


async def test_refused_connection_falls_back_to_live_server(upstream_url: str) -> None:
    dead = {
        "name": "dead",
        "provider": "openai",
        "settings": {"base_url": f"http://127.0.0.1:{closed_port()}/v1"},
    }
    async with Gateway(config(upstream_url, dead)) as gw:
        reply = await gw.chat.completions.create(model="chat", messages=USER)
        assert reply.gateway is not None and reply.gateway.deployment == "live"
        assert reply.gateway.attempts[0].deployment == "dead"
        assert reply.gateway.attempts[0].error is not None
        assert reply.gateway.attempts[0].error.startswith("APIConnectionError")


async def test_refused_connection_alone_is_a_connection_error() -> None:
    dead = {
        "models": {
            "c": {
                "deployments": [
                    {"provider": "openai", "settings": {"base_url": f"http://127.0.0.1:{closed_port()}/v1"}}
                ]
            }
        }
    }
    async with Gateway(dead) as gw:
        with pytest.raises(APIConnectionError, match="could not reach"):
            await gw.chat.completions.create(model="c", messages=USER)


async def test_unknown_route_is_not_found(upstream_url: str) -> None:
    cfg = {
        "models": {
            "c": {
                "deployments": [
                    {"provider": "openai", "settings": {"base_url": upstream_url.replace("/v1", "/v2")}}
                ]
            }
        }
    }
    async with Gateway(cfg) as gw:
        from llmgateway import NotFoundError

        with pytest.raises(NotFoundError, match="no such route"):
            await gw.chat.completions.create(model="c", messages=USER)
