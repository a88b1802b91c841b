"""SDK per-call overhead and throughput against bare HTTP clients, in one run, on one mock.

Every client posts the same chat request to the same mock upstream (a separate process) and
parses the answer; the SDK additionally validates the request, routes, parses into pydantic
models and prices the call. Variants:

- ``aiohttp``: a bare aiohttp session (what the SDK's default fast path posts through)
- ``httpx+aiohttp``: a bare httpx client on httpx-aiohttp's transport
- ``httpx``: a bare plain httpx client (its own transport)
- ``sdk``: ``gw.chat.completions.create`` with the default (gateway-owned) client
- ``sdk via httpx+aiohttp``: the SDK given the user's httpx client on the aiohttp transport

Sequential: median microseconds per call, measured in A/B pairs: the SDK alternates call by call
with the bare client it posts through (sdk with aiohttp; sdk via httpx+aiohttp with
httpx+aiohttp), so both sides of each comparison run under the same conditions; plain httpx is
timed on its own. Concurrent: calls/s with C tasks in flight; rounds of all variants alternate so
drift on the machine hits them alike, and the median round is reported.

    python -m bench.sdk_overhead [--calls 2000] [--concurrency 32] [--rounds 3] [--loop asyncio]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bench.timing import Call, median_us, take_turns, warm, write_result
from bench.upstream_process import free_port, upstream_process

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
BODY = json.dumps({"model": "mock-model", "messages": MESSAGES, "max_tokens": 16}).encode()
HEADERS = {"content-type": "application/json", "authorization": "Bearer sk-bench"}

__all__ = ["Call", "free_port", "measure_sequential", "mock_upstream"]  # also used by bench.books


def mock_upstream(port: int) -> contextlib.AbstractContextManager[str]:
    """bench.mock_upstream in its own process; yields its OpenAI-style base URL."""
    return upstream_process("bench.mock_upstream", port, "/v1")


async def measure_sequential(calls: dict[str, Call], rounds: int) -> dict[str, float]:
    """Median microseconds per call for each variant, the variants taking turns call by call."""
    return {name: median_us(nanos) for name, nanos in (await take_turns(calls, rounds)).items()}


async def measure_concurrent(call: Call, calls: int, concurrency: int) -> float:
    """Calls per second with ``concurrency`` tasks each making its share of calls."""
    per_task = calls // concurrency

    async def worker() -> None:
        for _ in range(per_task):
            await call()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return per_task * concurrency / (time.perf_counter() - start)


@contextlib.asynccontextmanager
async def variants(base_url: str) -> AsyncIterator[dict[str, Call]]:
    import aiohttp
    import httpx
    from httpx_aiohttp import AiohttpTransport

    from llmgateway import Gateway

    url = f"{base_url}/chat/completions"
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256))
    httpx_aio = httpx.AsyncClient(transport=AiohttpTransport(), timeout=None)
    httpx_plain = httpx.AsyncClient(limits=httpx.Limits(max_connections=256), timeout=None)
    user_client = httpx.AsyncClient(transport=AiohttpTransport(), timeout=None)
    config = {
        "models": {
            "chat": {
                "deployments": [
                    {
                        "name": "mock",
                        "provider": "openai",
                        "settings": {"base_url": base_url, "model": "mock-model", "api_key": "sk-bench"},
                        "pricing": {"input_per_million": "0.15", "output_per_million": "0.60"},
                    }
                ]
            }
        }
    }
    gateway = Gateway(config)
    gateway_user_client = Gateway(config, http_client=user_client)

    async def bare_aiohttp() -> Any:
        async with session.post(url, data=BODY, headers=HEADERS) as response:
            return json.loads(await response.read())

    async def bare_httpx_aiohttp() -> Any:
        return (await httpx_aio.post(url, content=BODY, headers=HEADERS)).json()

    async def bare_httpx() -> Any:
        return (await httpx_plain.post(url, content=BODY, headers=HEADERS)).json()

    async def sdk() -> Any:
        return await gateway.chat.completions.create(model="chat", messages=MESSAGES, max_tokens=16)

    async def sdk_user_client() -> Any:
        return await gateway_user_client.chat.completions.create(
            model="chat", messages=MESSAGES, max_tokens=16
        )

    try:
        yield {
            "aiohttp": bare_aiohttp,
            "httpx+aiohttp": bare_httpx_aiohttp,
            "httpx": bare_httpx,
            "sdk": sdk,
            "sdk via httpx+aiohttp": sdk_user_client,
        }
    finally:
        await gateway.aclose()
        await gateway_user_client.aclose()
        await user_client.aclose()
        await httpx_aio.aclose()
        await httpx_plain.aclose()
        await session.close()


async def run(args: argparse.Namespace, base_url: str) -> dict[str, Any]:
    concurrent: dict[str, list[float]] = {}
    async with variants(base_url) as calls:
        await warm(calls, 200)
        seq: dict[str, float] = {}
        for pair in (("aiohttp", "sdk"), ("httpx+aiohttp", "sdk via httpx+aiohttp"), ("httpx",)):
            seq.update(
                await measure_sequential({name: calls[name] for name in pair}, args.calls * args.rounds)
            )
        print("sequential done", file=sys.stderr)
        for round_index in range(args.rounds):
            for name, call in calls.items():
                concurrent.setdefault(name, []).append(
                    await measure_concurrent(call, args.calls * 3, args.concurrency)
                )
            print(f"round {round_index + 1}/{args.rounds} done", file=sys.stderr)
    conc = {name: statistics.median(v) for name, v in concurrent.items()}
    return {
        "sequential_median_us": seq,
        "concurrent_calls_per_s": conc,
        "overhead_us": {
            "sdk - aiohttp (same transport)": seq["sdk"] - seq["aiohttp"],
            "sdk via httpx+aiohttp - httpx+aiohttp (same client)": seq["sdk via httpx+aiohttp"]
            - seq["httpx+aiohttp"],
        },
        "ratios_at_concurrency": {
            "sdk / httpx+aiohttp": conc["sdk"] / conc["httpx+aiohttp"],
            "sdk / aiohttp": conc["sdk"] / conc["aiohttp"],
            "sdk via httpx+aiohttp / httpx+aiohttp": conc["sdk via httpx+aiohttp"] / conc["httpx+aiohttp"],
            "httpx+aiohttp / httpx": conc["httpx+aiohttp"] / conc["httpx"],
        },
    }


def report(result: dict[str, Any], args: argparse.Namespace) -> None:
    seq, conc = result["sequential_median_us"], result["concurrent_calls_per_s"]
    print(f"\n{'client':<24}{'sequential µs/call':>20}{f'calls/s @ {args.concurrency}':>18}")
    for name in seq:
        print(f"{name:<24}{seq[name]:>20.1f}{conc[name]:>18.0f}")
    print("\nper-call overhead (median, sequential):")
    for name, value in result["overhead_us"].items():
        print(f"  {name}: {value:+.1f} µs")
    print(f"\nthroughput ratios at {args.concurrency} concurrent:")
    for name, value in result["ratios_at_concurrency"].items():
        print(f"  {name}: {value:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=2000, help="calls per variant and round")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "sdk_overhead.json"))
    args = parser.parse_args()
    with mock_upstream(free_port()) as base_url:
        if args.loop == "uvloop":
            import uvloop

            result = uvloop.run(run(args, base_url))
        else:
            result = asyncio.run(run(args, base_url))
    result["settings"] = {
        "calls": args.calls,
        "concurrency": args.concurrency,
        "rounds": args.rounds,
        "loop": args.loop,
        "cpus": os.cpu_count(),
    }
    report(result, args)
    write_result(Path(args.out), result)


if __name__ == "__main__":
    main()
