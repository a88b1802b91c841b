"""The proxy benchmark's harness (not the benchmark): the floors forward a request as they should,
wrk's output is parsed right, the wrk script posts what it should, targets pass and fail."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from bench.mock_upstream import build_answers
from bench.proxy.floors import PassThrough
from bench.proxy.load import WrkError, lua_script, parse_wrk, run_wrk, time_ms
from bench.proxy.report import area, summarize

BODY = json.dumps({"model": "chat", "messages": [{"role": "user", "content": "hi"}]}).encode()

BUSY = """Running 10s test @ http://127.0.0.1:9200/v1/chat/completions
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.52ms  310.40us  20.01ms   91.20%
    Req/Sec     6.38k   210.55     6.91k    78.50%
  127034 requests in 10.00s, 51.20MB read
Requests/sec:  12702.87
Transfer/sec:      5.12MB
"""

ONE = """Running 10s test @ http://127.0.0.1:9200/v1/chat/completions
  1 threads and 1 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   412.00us  101.00us    1.20s    99.00%
    Req/Sec     2.40k    80.00     2.60k    70.00%
  Latency Distribution
     50%  398.00us
     75%    1.02ms
     90%    1.50ms
     99%    2.01s
  24000 requests in 1.00m, 9.70MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 7
Requests/sec:   2399.50
Transfer/sec:    993.00KB
"""


async def _post(app: PassThrough, body: bytes) -> tuple[int, bytes]:
    """One HTTP request through the ASGI app, its body in two parts."""
    parts = [
        {"type": "http.request", "body": body[:5], "more_body": True},
        {"type": "http.request", "body": body[5:], "more_body": False},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return parts.pop(0) if parts else {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(dict(message))

    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "headers": []}
    await app(scope, receive, send)
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    return sent[0]["status"], sent[1]["body"]


@pytest.mark.parametrize("kind", ["aiohttp", "httpx"])
async def test_floor_forwards_body_and_relays_status_and_answer(upstream_url: str, kind: str) -> None:
    app = PassThrough(kind, f"{upstream_url}/chat/completions")
    try:
        status, body = await _post(app, BODY)  # opens its client on first use
        assert status == 200
        expected = json.loads(build_answers().chat)
        answer = json.loads(body)
        assert {**answer, "created": 0} == {**expected, "created": 0}  # the mock's bytes, untouched
        # The upstream's status comes back as is.
        missing = PassThrough(kind, f"{upstream_url}/no-such-route")
        try:
            status, body = await _post(missing, BODY)
        finally:
            await missing.close()
        assert status == 404 and b"no such route" in body
    finally:
        await app.close()


async def test_floor_lifespan_opens_and_closes_its_client(upstream_url: str) -> None:
    app = PassThrough("aiohttp", f"{upstream_url}/chat/completions")
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: list[str] = []

    async def send(message: Any) -> None:
        outbox.append(message["type"])

    lifespan = asyncio.create_task(app({"type": "lifespan"}, inbox.get, send))
    await inbox.put({"type": "lifespan.startup"})
    while not outbox:
        await asyncio.sleep(0.01)
    assert outbox == ["lifespan.startup.complete"]
    assert (await _post(app, BODY))[0] == 200
    await inbox.put({"type": "lifespan.shutdown"})
    await asyncio.wait_for(lifespan, 5)
    assert outbox == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


def test_unknown_floor_is_refused() -> None:
    with pytest.raises(ValueError, match="aiohttp, httpx"):
        PassThrough("requests", "http://127.0.0.1:1/v1/chat/completions")


def test_wrk_times_in_every_unit() -> None:
    assert time_ms("812.00us") == pytest.approx(0.812)
    assert time_ms("1.20ms") == pytest.approx(1.2)
    assert time_ms("2.00s") == pytest.approx(2000.0)
    assert time_ms("1.50m") == pytest.approx(90_000.0)
    with pytest.raises(WrkError):
        time_ms("12 parsecs")


def test_parse_wrk_busy_run_without_latency_distribution() -> None:
    result = parse_wrk(BUSY)
    assert result.requests == 127034
    assert result.seconds == pytest.approx(10.0)
    assert result.requests_per_s == pytest.approx(12702.87)
    assert result.latency_avg_ms == pytest.approx(2.52)
    assert result.percentiles_ms == {}
    assert result.errors == 0
    with pytest.raises(WrkError, match="--latency"):
        _ = result.median_ms


def test_parse_wrk_latency_run_with_errors() -> None:
    result = parse_wrk(ONE)
    assert result.median_ms == pytest.approx(0.398)
    assert result.percentiles_ms[75.0] == pytest.approx(1.02)
    assert result.percentiles_ms[99.0] == pytest.approx(2010.0)
    assert result.seconds == pytest.approx(60.0)
    assert result.latency_avg_ms == pytest.approx(0.412)
    assert result.non_2xx_3xx == 7
    assert result.socket_errors == {"connect": 0, "read": 1, "write": 0, "timeout": 2}
    assert result.errors == 10


def test_parse_wrk_refuses_output_without_totals() -> None:
    with pytest.raises(WrkError, match="lacks its totals"):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_lua_script_keeps_any_body_intact() -> None:
    script = lua_script(b'{"x": "]=] and ]]"}', {"Authorization": "Bearer sk-1"})
    assert 'wrk.method = "POST"' in script
    assert 'wrk.body = [==[{"x": "]=] and ]]"}]==]' in script
    assert 'wrk.headers["Authorization"] = "Bearer sk-1"' in script
    with pytest.raises(ValueError):
        lua_script(BODY, {"X": 'a"b'})


async def test_wrk_posts_the_script_to_the_mock(upstream_url: str, tmp_path: Path) -> None:
    script = tmp_path / "post.lua"
    script.write_text(lua_script(BODY, {"Content-Type": "application/json"}))
    url = f"{upstream_url}/chat/completions"
    # wrk blocks; the mock runs on this loop, so wrk waits in a thread.
    result = await asyncio.to_thread(run_wrk, url, script, threads=1, connections=2, seconds=1, latency=True)
    assert result.requests > 100 and result.errors == 0 and result.median_ms > 0
    missing = await asyncio.to_thread(
        run_wrk, f"{upstream_url}/nothing", script, threads=1, connections=1, seconds=1
    )
    assert missing.non_2xx_3xx == missing.requests > 0


def test_targets_pass_and_fail() -> None:
    rounds = {"floor-aiohttp": [12000.0, 13000.0], "floor-httpx": [4500.0, 4400.0], "proxy": [3400.0, 3300.0]}
    p50 = {"floor-aiohttp": [0.30, 0.32], "floor-httpx": [0.50, 0.52], "proxy": [0.60, 0.70]}
    good = summarize(rounds, p50, {"rss_mb": 80.0, "peak_rss_mb": 85.0}, 0)
    assert good["ratios"]["proxy/floor-httpx"] == pytest.approx(3350 / 4450)
    assert good["proxy_added_median_ms"]["floor-aiohttp"] == pytest.approx(0.34)
    assert good["passed"] and all(t["pass"] for t in good["targets"])
    bad = summarize(rounds, p50, {"rss_mb": 120.0, "peak_rss_mb": 130.0}, 3)
    assert not bad["passed"]
    assert [t["pass"] for t in bad["targets"]] == [True, True, True, False, False]


def test_profile_areas() -> None:
    site = "/work/main/.venv/lib/python3.11/site-packages"
    assert area(f"{site}/aiohttp/client.py", "_request") == "aiohttp"
    assert area("/work/main/llmgateway/server/auth.py", "authenticate") == "llmgateway/server"
    assert area("/work/main/llmgateway/pipeline.py", "_admit") == "llmgateway/pipeline.py"
    assert area("/work/main/providers/openai_compat.py", "chat") == "providers/openai_compat.py"
    method = "<method 'to_json' of 'pydantic_core._pydantic_core.SchemaSerializer' objects>"
    assert area("~", method) == "built-in pydantic_core._pydantic_core.SchemaSerializer"
    assert area("~", "<built-in method time.perf_counter>") == "built-in built-in method time.perf_counter"
    assert area("/usr/lib/python3.11/asyncio/tasks.py", "sleep") == "stdlib tasks.py"
