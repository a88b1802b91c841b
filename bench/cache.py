"""The response cache's own cost per request: key computation + backend get + materialising the
response (``lookup(...)`` then ``entry.response()``), on a hit and on a miss, per backend.

The request is an already validated ChatCompletionRequest (as the SDK hands it over); the cache is
prefilled with other entries so lookups do not hit a one-row table. SQLite writes are flushed first,
so hits are real reads from the file (through the OS page cache). Redis is the real server on
localhost (``--redis-url``). Targets (the issue, through the SDK): memory < 50 us, SQLite and Redis
< 1 ms; this bench aims for < 25 us and < 400 us for the cache's share.

    python -m bench.cache [--iterations 5000] [--prefill 2000] [--redis-url redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from llmgateway.cache.control import CacheControl
from llmgateway.cache.keys import request_key
from llmgateway.cache.response_cache import ResponseCache, build_response_cache
from llmgateway.cache.settings import CacheConfig
from llmgateway.types import ChatCompletion, ChatCompletionRequest, Cost

RESULTS = Path(__file__).resolve().parent / "results" / "cache.json"
TARGETS_US = {"memory": 25.0, "sqlite": 400.0, "redis": 400.0}


def chat_request(question: str) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate(
        {
            "model": "chat",
            "messages": [
                {"role": "system", "content": "You are a helpful assistant. Answer in one sentence."},
                {"role": "user", "content": question},
            ],
            "temperature": 0,
            "max_tokens": 128,
        }
    )


def answer(text: str) -> ChatCompletion:
    return ChatCompletion.model_validate(
        {
            "id": "chatcmpl-" + uuid.uuid4().hex,
            "created": 1_700_000_000,
            "model": "chat-model",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 31, "completion_tokens": 24, "total_tokens": 55},
        }
    )


async def timed(step: Callable[[], Awaitable[Any]], iterations: int) -> dict[str, float]:
    for _ in range(min(200, iterations)):  # warm up (schema builds, page cache, connections)
        await step()
    samples = []
    for _ in range(iterations):
        start = time.perf_counter_ns()
        await step()
        samples.append((time.perf_counter_ns() - start) / 1000.0)
    samples.sort()
    return {
        "median_us": round(statistics.median(samples), 2),
        "p90_us": round(samples[int(len(samples) * 0.9)], 2),
        "p99_us": round(samples[int(len(samples) * 0.99)], 2),
    }


async def bench_backend(cache: ResponseCache, name: str, iterations: int, prefill: int) -> dict[str, Any]:
    cost = Cost()
    text = "Paris is the capital of France, on the Seine, and its largest city by far."
    for i in range(prefill):
        lookup = await cache.lookup("chat", chat_request(f"question {i}"))
        await cache.store(lookup, answer(text), deployment="d1", provider="mock", cost=cost)
    flush = getattr(cache.backend, "flush", None)
    if flush is not None:
        await flush()
    hit_request = chat_request(f"question {prefill // 2}")
    miss_request = chat_request("a question nobody asked")
    control = CacheControl()

    async def hit() -> None:
        lookup = await cache.lookup("chat", hit_request, control)
        assert lookup.entry is not None
        lookup.entry.response()

    async def miss() -> None:
        lookup = await cache.lookup("chat", miss_request, control)
        assert lookup.entry is None

    key = request_key("chat", hit_request).key

    async def key_only() -> None:
        request_key("chat", hit_request)

    async def get_only() -> None:
        await cache.backend.get(key)

    entry = await cache.backend.get(key)
    assert entry is not None

    async def materialise() -> None:
        entry.response()

    return {
        "backend": name,
        "hit": await timed(hit, iterations),
        "miss": await timed(miss, iterations),
        "parts_median_us": {
            "key": (await timed(key_only, iterations))["median_us"],
            "backend_get": (await timed(get_only, iterations))["median_us"],
            "response": (await timed(materialise, iterations))["median_us"],
        },
        "target_hit_us": TARGETS_US[name],
    }


async def run(iterations: int, prefill: int, redis_url: str) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        configs = {
            "memory": CacheConfig(backend="memory"),
            "sqlite": CacheConfig(backend="sqlite", path=str(Path(directory) / "cache.sqlite")),
            "redis": CacheConfig(
                backend="redis",
                redis_url=redis_url,
                prefix=f"llmgw:bench:{uuid.uuid4().hex[:8]}:",
                ttl_seconds=600,
            ),
        }
        for name, config in configs.items():
            cache = build_response_cache(config)
            try:
                rows.append(await bench_backend(cache, name, iterations, prefill))
            except OSError as exc:  # redis not running: say so, measure the others
                print(f"{name}: skipped ({exc})", file=sys.stderr)
            finally:
                if name == "redis":
                    await _drop_redis_keys(redis_url, config.prefix)
                await cache.aclose()
    return rows


async def _drop_redis_keys(url: str, prefix: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        keys = [k async for k in client.scan_iter(match=prefix + "*", count=1000)]
        for start in range(0, len(keys), 1000):
            await client.delete(*keys[start : start + 1000])
    except OSError:
        pass
    finally:
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=5000)
    parser.add_argument("--prefill", type=int, default=2000)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    rows = asyncio.run(run(args.iterations, args.prefill, args.redis_url))
    header = ("backend", "hit med", "hit p99", "miss med", "key", "get", "resp")
    print(
        f"{header[0]:<8} {header[1]:>9} {header[2]:>9} {header[3]:>9} {header[4]:>7} {header[5]:>7} "
        f"{header[6]:>7}  target (us)"
    )
    for row in rows:
        parts = row["parts_median_us"]
        print(
            f"{row['backend']:<8} {row['hit']['median_us']:>9.1f} {row['hit']['p99_us']:>9.1f} "
            f"{row['miss']['median_us']:>9.1f} {parts['key']:>7.1f} {parts['backend_get']:>7.1f} "
            f"{parts['response']:>7.1f}  < {row['target_hit_us']:.0f} us"
        )
    result = {
        "benchmark": "cache",
        "unit": "microseconds per lookup (+ materialising the response on a hit)",
        "iterations": args.iterations,
        "prefill": args.prefill,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "results": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
