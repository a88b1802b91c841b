"""Demo: the gateway answers a question through an OpenAI-compatible upstream on localhost,
falling back past a deployment that is down, and prints who served it and what it cost.

Run with ``make demo``.
"""

from __future__ import annotations

import asyncio
import socket

from bench.mock_upstream import serve
from llmgateway import Gateway


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def main() -> None:
    server = await serve("127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    config = {
        "models": {
            "chat": {
                "deployments": [
                    {  # nothing listens here: the gateway records the failure and moves on
                        "name": "primary-down",
                        "provider": "openai",
                        "settings": {"base_url": f"http://127.0.0.1:{unused_port()}/v1"},
                    },
                    {
                        "name": "local-upstream",
                        "provider": "openai",
                        "settings": {"base_url": f"http://127.0.0.1:{port}/v1", "model": "mock-model"},
                        "pricing": {"input_per_million": "0.15", "output_per_million": "0.60"},
                    },
                ]
            }
        }
    }
    async with Gateway(config) as gw:
        question = [{"role": "user", "content": "What is the capital of France?"}]
        reply = await gw.chat.completions.create(model="chat", messages=question)
        meta = reply.gateway
        assert meta is not None
        print(f"Q: {question[0]['content']}\nA: {reply.text()}")
        print(
            f"served by {meta.deployment} in {meta.latency_ms:.1f} ms; "
            f"cost {meta.cost.total} {meta.cost.currency}"
        )
        for attempt in meta.attempts:
            print(f"  attempt {attempt.deployment}: {attempt.outcome} {attempt.error or ''}")
    server.close()
    await server.wait_closed()


if __name__ == "__main__":
    asyncio.run(main())
