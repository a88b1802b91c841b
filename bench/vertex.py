"""What the vertex provider adds per call, in one run, against one instant canned Vertex API
(``bench.vertex_upstream``, a separate process):

1. Per call: ``gw.chat.completions.create`` to a vertex deployment (google-auth service-account
   credentials, token cached) against a plain ``httpx.AsyncClient`` POST of the same body with the
   same bearer header, parsed with ``json`` (the baseline), and a bare aiohttp POST (the transport
   the gateway posts through). Routes: chat completions (OpenAI answer) and ``:predict``
   (predictions). Variants alternate call by call, so drift hits them alike; median and p95.
2. The bearer token: the provider's cached token per call, against calling google-auth's
   ``credentials.refresh`` on every call (a signed JWT exchanged at the local token endpoint).

    python -m bench.vertex [--calls 2000] [--refreshes 200]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from bench.sdk_overhead import free_port

RESULTS = Path(__file__).resolve().parent / "results" / "vertex.json"
MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
PATH = "/v1/projects/bench-project/locations/us-central1/endpoints/1"
Call = Callable[[], Awaitable[Any]]


@contextlib.contextmanager
def canned_vertex(port: int) -> Iterator[str]:
    root = Path(__file__).resolve().parent.parent
    command = [sys.executable, "-m", "bench.vertex_upstream", "--port", str(port)]
    process = subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        process.stdout.readline()  # "listening on ..."
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def service_account_key(directory: Path, token_uri: str) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    info = {
        "type": "service_account",
        "project_id": "bench-project",
        "private_key_id": "bench",
        "private_key": pem.decode(),
        "client_email": "bench@bench-project.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": token_uri,
    }
    path = directory / "sa.json"
    path.write_text(json.dumps(info))
    return path


def gateway_config(base_url: str, key: Path) -> dict[str, Any]:
    def deployment(route: str) -> dict[str, Any]:
        settings = {
            "project": "bench-project",
            "region": "us-central1",
            "endpoint": "1",
            "route": route,
            "model": "bench-model",
            "api_endpoint": base_url,
            "credentials_file": str(key),
        }
        pricing = {"input_per_million": "0.15", "output_per_million": "0.60"}
        return {"name": f"vertex-{route}", "provider": "vertex", "settings": settings, "pricing": pricing}

    return {
        "models": {
            "chat": {"deployments": [deployment("chat")]},
            "predict": {"deployments": [deployment("predict")]},
        }
    }


async def measure(calls: dict[str, Call], rounds: int) -> dict[str, dict[str, float]]:
    """Median and p95 microseconds per call; variants take turns call by call."""
    timings: dict[str, list[int]] = {name: [] for name in calls}
    clock = time.perf_counter_ns
    for _ in range(rounds):
        for name, call in calls.items():
            start = clock()
            await call()
            timings[name].append(clock() - start)
    return {
        name: {
            "median_us": statistics.median(values) / 1000.0,
            "p95_us": statistics.quantiles(values, n=20)[18] / 1000.0,
        }
        for name, values in timings.items()
    }


@contextlib.asynccontextmanager
async def variants(base_url: str, key: Path) -> AsyncIterator[dict[str, dict[str, Call]]]:
    import aiohttp
    import httpx

    from bench.vertex_upstream import TOKEN
    from llmgateway import Gateway

    headers = {"content-type": "application/json", "authorization": f"Bearer {TOKEN}"}
    # The bodies the provider sends for these calls.
    bodies = {
        "chat": json.dumps({"model": "bench-model", "messages": MESSAGES, "max_tokens": 16, "stream": False}),
        "predict": json.dumps({"instances": [{"messages": MESSAGES}], "parameters": {"max_tokens": 16}}),
    }
    urls = {"chat": f"{base_url}{PATH}/chat/completions", "predict": f"{base_url}{PATH}:predict"}
    gateway = Gateway(gateway_config(base_url, key))
    client = httpx.AsyncClient(limits=httpx.Limits(max_connections=64), timeout=None)
    session = aiohttp.ClientSession()

    def calls_for(route: str) -> dict[str, Call]:
        async def sdk() -> Any:
            return await gateway.chat.completions.create(model=route, messages=MESSAGES, max_tokens=16)

        async def baseline() -> Any:
            return json.loads(
                (await client.post(urls[route], content=bodies[route], headers=headers)).content
            )

        async def bare_aiohttp() -> Any:
            async with session.post(urls[route], data=bodies[route], headers=headers) as response:
                return json.loads(await response.read())

        return {"httpx baseline": baseline, "aiohttp bare": bare_aiohttp, "gateway vertex": sdk}

    try:
        yield {"chat": calls_for("chat"), "predict": calls_for("predict")}
    finally:
        await gateway.aclose()
        await client.aclose()
        await session.close()


async def token_costs(base_url: str, key: Path, calls: int, refreshes: int) -> dict[str, float]:
    from providers.gcp.auth import GoogleTokenSource, auth_request, credentials_loader

    scopes = ["https://www.googleapis.com/auth/cloud-platform"]
    load = credentials_loader(str(key), scopes, None)
    request = auth_request(30.0)
    tokens = GoogleTokenSource(load, request)
    await tokens.authorization()  # the one real fetch
    clock = time.perf_counter_ns
    start = clock()
    for _ in range(calls):
        await tokens.authorization()
    cached = (clock() - start) / calls / 1000.0
    credentials = load()
    credentials.refresh(request)  # warm the connection
    timings = []
    for _ in range(refreshes):
        start = clock()
        credentials.refresh(request)  # what calling google-auth every time costs (and blocks)
        timings.append(clock() - start)
    return {
        "cached_token_us_per_call": cached,
        "google_auth_refresh_us_per_call": statistics.median(timings) / 1000.0,
        "token_fetches_for_cached_calls": float(tokens.refreshes),
    }


async def run(args: argparse.Namespace, base_url: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        key = service_account_key(Path(directory), f"{base_url}/token")
        per_call: dict[str, dict[str, dict[str, float]]] = {}
        async with variants(base_url, key) as routes:
            for route, calls in routes.items():
                for call in calls.values():  # warm: connections, the token, pydantic schemas
                    for _ in range(200):
                        await call()
                per_call[route] = await measure(calls, args.calls)
        tokens = await token_costs(base_url, key, args.calls * 10, args.refreshes)
    ratios = {
        route: {
            "median": r["gateway vertex"]["median_us"] / r["httpx baseline"]["median_us"],
            "p95": r["gateway vertex"]["p95_us"] / r["httpx baseline"]["p95_us"],
        }
        for route, r in per_call.items()
    }
    return {"per_call": per_call, "gateway_vs_httpx_ratio": ratios, "token": tokens}


def report(result: dict[str, Any]) -> None:
    print(f"\n{'route / client':<32}{'median µs':>11}{'p95 µs':>10}")
    for route, calls in result["per_call"].items():
        for name, timing in calls.items():
            print(f"{route + ' / ' + name:<32}{timing['median_us']:>11.1f}{timing['p95_us']:>10.1f}")
        ratio = result["gateway_vs_httpx_ratio"][route]
        print(f"{route + ' gateway / httpx':<32}{ratio['median']:>10.2f}x{ratio['p95']:>9.2f}x")
    token = result["token"]
    print(f"\n{'bearer token per call':<32}{'µs':>11}")
    print(f"{'cached (provider)':<32}{token['cached_token_us_per_call']:>11.2f}")
    print(f"{'google-auth refresh every call':<32}{token['google_auth_refresh_us_per_call']:>11.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per variant per route")
    parser.add_argument("--refreshes", type=int, default=200, help="google-auth refreshes timed")
    args = parser.parse_args(argv)
    with canned_vertex(free_port()) as base_url:
        result = asyncio.run(run(args, base_url))
    report(result)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"machine": platform.platform(), "calls": args.calls, **result}, indent=2))
    print(f"\nwrote {RESULTS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
