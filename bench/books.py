"""What the gateway's books cost per call, through the SDK, in one run, against the same mock
upstream (a separate process):

1. Cache hits: ``gw.chat.completions.create`` answered from the memory, SQLite and Redis caches
   (500 distinct cached questions, asked in turn, back to back), against the same calls going
   to the upstream (no cache), timed the same way. Targets (the issue): a hit under 50 us
   (memory) and under 1 ms (SQLite, Redis). Also shown: a hit right after an upstream call
   (alternating), where the CPU's caches are cold: what a hit costs inside a mixed workload.
2. Bookkeeping: the same upstream call with the books on (usage ledger, a budget on the caller's
   key, key and deployment rate limits) against the plain SDK, in A/B pairs: embedded (SQLite
   ledger, memory limits and budgets) and shared (PostgreSQL ledger, Redis limits and budgets).

Every variant alternates call by call with its baseline (``measure_sequential``), so drift on the
machine hits both sides alike. Medians in microseconds.

    python -m bench.books [--calls 3000] [--redis-url ...] [--postgres-dsn ...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.sdk_overhead import Call, free_port, measure_sequential, mock_upstream

Indexed = Callable[..., Awaitable[Any]]
RESULTS = Path(__file__).resolve().parent / "results" / "books.json"
MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
HIT_TARGETS_US = {"memory": 50.0, "sqlite": 1000.0, "redis": 1000.0}


QUESTIONS = [f"What is the capital of country number {i}?" for i in range(500)]


async def back_to_back(call: Indexed, calls: int) -> float:
    """Median microseconds per call, each timed alone, calls one after another."""
    clock = time.perf_counter_ns
    timings = []
    for index in range(calls):
        start = clock()
        await call(index)
        timings.append(clock() - start)
    return statistics.median(timings) / 1000.0


def _config(base_url: str, **sections: Any) -> dict[str, Any]:
    deployment: dict[str, Any] = {
        "name": "mock",
        "provider": "openai",
        "settings": {"base_url": base_url, "model": "mock-model", "api_key": "sk-bench"},
        "pricing": {"input_per_million": "0.15", "output_per_million": "0.60"},
    }
    if sections.pop("deployment_limits", False):
        deployment["limits"] = {"rpm": 10_000_000, "tpm": 1_000_000_000}
    return {"models": {"chat": {"deployments": [deployment]}}, **sections}


def _books(kind: str, tmp: Path, redis_url: str, dsn: str, prefix: str) -> dict[str, Any]:
    """The sections that turn every book on: embedded stores or shared ones."""
    budget = {"limits": [{"scope": "key", "name": "*", "period": "month", "hard": "1000000"}]}
    limits: dict[str, Any] = {"keys": {"*": {"rpm": 10_000_000, "tpm": 1_000_000_000}}}
    if kind == "embedded":
        return {
            "ledger": {"backend": "sqlite", "path": str(tmp / "usage.sqlite")},
            "budgets": budget,
            "limits": limits,
            "deployment_limits": True,
        }
    shared = {"backend": "redis", "redis_url": redis_url, "prefix": prefix}
    return {
        "ledger": {"backend": "postgres", "dsn": dsn},
        "budgets": {**budget, **shared},
        "limits": {**limits, **shared},
        "deployment_limits": True,
    }


@contextlib.asynccontextmanager
async def gateways(
    base_url: str, tmp: Path, redis_url: str, dsn: str, prefix: str
) -> AsyncIterator[dict[str, Call]]:
    from llmgateway import Gateway

    built = {
        "plain": Gateway(_config(base_url)),
        "hit memory": Gateway(_config(base_url, cache={"backend": "memory"})),
        "hit sqlite": Gateway(
            _config(base_url, cache={"backend": "sqlite", "path": str(tmp / "cache.sqlite")})
        ),
        "hit redis": Gateway(
            _config(base_url, cache={"backend": "redis", "redis_url": redis_url, "prefix": prefix})
        ),
        "books embedded": Gateway(_config(base_url, **_books("embedded", tmp, redis_url, dsn, prefix))),
        "books shared": Gateway(_config(base_url, **_books("shared", tmp, redis_url, dsn, prefix))),
    }

    def caller(gateway: Gateway, **params: Any) -> Indexed:
        async def call(index: int = 0) -> Any:
            messages = [{"role": "user", "content": QUESTIONS[index % len(QUESTIONS)]}]
            return await gateway.chat.completions.create(
                model="chat", messages=messages, max_tokens=16, caller="bench-key", **params
            )

        return call

    calls = {
        name: caller(g, temperature=0) if name.startswith("hit") else caller(g) for name, g in built.items()
    }
    try:
        yield calls
    finally:
        for gateway in built.values():
            await gateway.aclose()


async def run(args: argparse.Namespace, base_url: str) -> dict[str, Any]:
    import uuid

    prefix = f"llmgw-bench-{uuid.uuid4().hex[:8]}:"
    with tempfile.TemporaryDirectory() as directory:
        async with gateways(base_url, Path(directory), args.redis_url, args.postgres_dsn, prefix) as calls:
            for name, call in calls.items():  # warm: connections, schemas, every cached answer
                for index in range(len(QUESTIONS)):
                    await call(index)
                if name == "hit sqlite":
                    await asyncio.sleep(0.5)  # let the background writer commit the entries
            hits = {"plain": await back_to_back(calls["plain"], args.calls)}
            cold = {}
            for backend in ("memory", "sqlite", "redis"):
                hits[f"hit {backend}"] = await back_to_back(calls[f"hit {backend}"], args.calls)
                pair = {"plain": calls["plain"], f"hit {backend}": calls[f"hit {backend}"]}
                cold.update(await measure_sequential(pair, args.calls))
            books = {}
            for kind in ("embedded", "shared"):
                pair = {"plain": calls["plain"], f"books {kind}": calls[f"books {kind}"]}
                books.update(await measure_sequential(pair, args.calls))
    return {
        "cache_hit_us": {b: hits[f"hit {b}"] for b in ("memory", "sqlite", "redis")},
        "cache_hit_after_upstream_call_us": {b: cold[f"hit {b}"] for b in ("memory", "sqlite", "redis")},
        "upstream_call_us": hits["plain"],
        "hit_speedup_vs_upstream_call": {
            b: hits["plain"] / hits[f"hit {b}"] for b in ("memory", "sqlite", "redis")
        },
        "books_added_us": {k: books[f"books {k}"] - books["plain"] for k in ("embedded", "shared")},
        "books_ratio_vs_plain": {k: books[f"books {k}"] / books["plain"] for k in ("embedded", "shared")},
        "plain_us_in_books_pairs": books["plain"],
    }


def report(result: dict[str, Any]) -> bool:
    ok = True
    print(f"\nSDK call to the mock upstream (no books): {result['upstream_call_us']:.1f} µs median")
    print(
        f"\n{'cache hit through the SDK':<28}{'µs':>8}{'target':>9}{'x faster than the call':>25}"
        f"{'µs after an upstream call':>28}"
    )
    for backend, micros in result["cache_hit_us"].items():
        target = HIT_TARGETS_US[backend]
        ok &= micros < target
        speedup = result["hit_speedup_vs_upstream_call"][backend]
        after = result["cache_hit_after_upstream_call_us"][backend]
        print(f"{backend:<28}{micros:>8.1f}{target:>9.0f}{speedup:>25.1f}{after:>28.1f}")
    print(f"\n{'books on (ledger, budget, limits)':<36}{'added µs/call':>14}{'ratio to plain':>16}")
    for kind, added in result["books_added_us"].items():
        print(f"{kind:<36}{added:>14.1f}{result['books_ratio_vs_plain'][kind]:>16.2f}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=3000, help="calls per variant per comparison")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--postgres-dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args(argv)
    with mock_upstream(free_port()) as base_url:
        result = asyncio.run(run(args, base_url))
    ok = report(result)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"machine": platform.platform(), **result}, indent=2))
    print(f"\nwrote {RESULTS}" + ("" if ok else "; a cache-hit target was missed"), file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
