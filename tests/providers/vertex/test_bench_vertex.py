"""bench.vertex runs end to end (tiny counts) against its canned Vertex API process."""

from __future__ import annotations

import argparse

import pytest

from bench.sdk_overhead import free_port
from bench.vertex import canned_vertex, run

pytestmark = pytest.mark.integration


async def test_bench_measures_every_variant() -> None:
    with canned_vertex(free_port()) as base_url:
        result = await run(argparse.Namespace(calls=30, refreshes=3), base_url)
    for route in ("chat", "predict"):
        assert set(result["per_call"][route]) == {"httpx baseline", "aiohttp bare", "gateway vertex"}
        assert all(
            t["median_us"] > 0 and t["p95_us"] >= t["median_us"] for t in result["per_call"][route].values()
        )
    token = result["token"]
    assert token["token_fetches_for_cached_calls"] == 1  # 300 calls, one token
    assert token["cached_token_us_per_call"] < token["google_auth_refresh_us_per_call"]
