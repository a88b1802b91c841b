"""bench.vertex runs end to end (tiny counts) against its canned Vertex API process, and its result
reports what it measured: every variant called --calls times per route, the medians and p95s of
those calls, and the gateway's ratio to the httpx baseline computed from them."""

from __future__ import annotations

import argparse

import pytest

from bench.sdk_overhead import free_port
from bench.vertex import BASELINE, canned_vertex, run
from tests.providers.timing_spy import TurnsSpy

pytestmark = pytest.mark.integration
CALLS = 30


async def test_bench_result_matches_what_it_measured(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = TurnsSpy(monkeypatch)
    with canned_vertex(free_port()) as base_url:
        result = await run(argparse.Namespace(calls=CALLS, refreshes=3), base_url)
    assert set(result["per_call"]) == {"chat", "predict"}
    for route, rows in result["per_call"].items():
        assert set(rows) == {BASELINE, "aiohttp bare", "gateway vertex"}
        spy.check(rows, CALLS)
        ratio = result["gateway_vs_httpx_ratio"][route]
        assert ratio["median"] == pytest.approx(
            rows["gateway vertex"]["median_us"] / rows[BASELINE]["median_us"]
        )
        assert ratio["p95"] == pytest.approx(rows["gateway vertex"]["p95_us"] / rows[BASELINE]["p95_us"])
    token = result["token"]
    assert token["token_fetches_for_cached_calls"] == 1  # 300 calls, one token
    assert token["cached_token_us_per_call"] < token["google_auth_refresh_us_per_call"]
