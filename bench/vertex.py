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
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bench.timing import Call, alternate, median_us, print_timings, ratio, warm, write_result
from bench.upstream_process import free_port, upstream_process

RESULTS = Path(__file__).resolve().parent / "results" / "vertex.json"
MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
PATH = "/v1/projects/bench-project/locations/us-central1/endpoints/1"
BASELINE = "httpx baseline"


def canned_vertex(port: int) -> contextlib.AbstractContextManager[str]:
    """The canned Vertex API (token endpoint and deployed endpoint), in its own process."""
    return upstream_process("bench.vertex_upstream", port)


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

        return {BASELINE: baseline, "aiohttp bare": bare_aiohttp, "gateway vertex": sdk}

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
        "google_auth_refresh_us_per_call": median_us(timings),
        "token_fetches_for_cached_calls": float(tokens.refreshes),
    }


async def run(args: argparse.Namespace, base_url: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        key = service_account_key(Path(directory), f"{base_url}/token")
        per_call: dict[str, dict[str, dict[str, float]]] = {}
        async with variants(base_url, key) as routes:
            for route, calls in routes.items():
                await warm(calls, 200)  # connections, the token, pydantic schemas
                per_call[route] = await alternate(calls, args.calls)
        tokens = await token_costs(base_url, key, args.calls * 10, args.refreshes)
    ratios = {route: ratio(rows, "gateway vertex", BASELINE) for route, rows in per_call.items()}
    return {"per_call": per_call, "gateway_vs_httpx_ratio": ratios, "token": tokens}


def report(result: dict[str, Any]) -> None:
    for route, calls in result["per_call"].items():
        print_timings(f"route {route} per call", calls, BASELINE)
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
    write_result(RESULTS, {"calls": args.calls, **result})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
