"""The dashboard's routes and JSON API, through httpx's ASGI transport on a small app that mounts
``dashboard_routes`` at /ui the way the proxy does."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from llmgateway.client import Gateway
from llmgateway.server.dashboard.session import COOKIE, session_token
from tests.server.dashboard_fixtures import (
    CALLS,
    MASTER,
    PRICES,
    dashboard_app,
    gateway_config,
    make_calls,
    server_state,
)

BEARER = {"Authorization": f"Bearer {MASTER}"}
TOTAL_CALLS = sum(count for _, _, count in CALLS)


@dataclass
class Dash:
    client: httpx.AsyncClient
    gateway: Gateway


async def _dash(tmp_path: Path, *, ledger: bool) -> AsyncIterator[Dash]:
    gateway = Gateway(gateway_config(tmp_path, ledger=ledger))
    await make_calls(gateway)
    transport = httpx.ASGITransport(app=dashboard_app(server_state(gateway)))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Dash(client, gateway)
    await gateway.aclose()


@pytest.fixture
async def dash(tmp_path: Path) -> AsyncIterator[Dash]:
    async for value in _dash(tmp_path, ledger=True):
        yield value


@pytest.fixture
async def bare(tmp_path: Path) -> AsyncIterator[Dash]:
    async for value in _dash(tmp_path, ledger=False):
        yield value


# -- auth -------------------------------------------------------------------------------------------


async def test_without_credentials_the_page_redirects_and_the_api_answers_401(dash: Dash) -> None:
    page = await dash.client.get("/ui/")
    assert page.status_code == 303 and page.headers["location"] == "/ui/login"
    for path in ("summary", "timeseries", "deployments", "recent"):
        response = await dash.client.get(f"/ui/api/{path}")
        assert response.status_code == 401, path
        assert response.json()["error"]["code"] == "invalid_api_key"
        assert "master key" in response.json()["error"]["message"]


async def test_login_form_and_wrong_key(dash: Dash) -> None:
    form = await dash.client.get("/ui/login")
    assert form.status_code == 200 and '<form method="post" action="login"' in form.text
    assert "default-src 'self'" in form.headers["content-security-policy"]
    wrong = await dash.client.post("/ui/login", data={"key": "sk-not-the-master-key-at-all"})
    assert wrong.status_code == 401 and "not the master key" in wrong.text
    assert COOKIE not in wrong.cookies and COOKIE not in dash.client.cookies


async def test_login_sets_a_strict_httponly_cookie_that_is_not_the_key(dash: Dash) -> None:
    response = await dash.client.post("/ui/login", data={"key": MASTER})
    assert response.status_code == 303 and response.headers["location"] == "/ui/"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui/" in cookie
    assert MASTER not in cookie and re.search(r"llmgateway_ui=\d+\.[0-9a-f]{64}", cookie)
    page = await dash.client.get("/ui/")  # the client keeps the cookie
    assert page.status_code == 200 and 'data-testid="chart-cost"' in page.text
    assert (await dash.client.get("/ui/api/summary")).status_code == 200
    out = await dash.client.post("/ui/logout")
    assert out.status_code == 303 and 'llmgateway_ui=""' in out.headers["set-cookie"]


async def test_key_in_the_url_signs_in_once_and_leaves_the_address_bar(dash: Dash) -> None:
    response = await dash.client.get("/ui/", params={"key": MASTER})
    assert response.status_code == 303 and response.headers["location"] == "/ui/"
    issued, _, _ = dash.client.cookies[COOKIE].partition(".")
    assert dash.client.cookies[COOKIE] == session_token(MASTER, int(issued))
    wrong = await dash.client.get("/ui/", params={"key": "sk-wrong-wrong-wrong-wrong"})
    assert wrong.status_code == 303 and wrong.headers["location"] == "/ui/login?failed=1"


async def test_forged_cookies_and_virtual_keys_are_refused(dash: Dash) -> None:
    now = int(time.time())
    expired = session_token(MASTER, now - 8 * 86400)  # signed right, but over a week old
    for forged in (session_token("some-other-master-key-xyz", now), expired, f"{now}.{MASTER}", MASTER, ""):
        dash.client.cookies.set(COOKIE, forged, path="/ui/")
        assert (await dash.client.get("/ui/api/summary")).status_code == 401
        assert (await dash.client.get("/ui/")).status_code == 303
    dash.client.cookies.clear()
    virtual = {"Authorization": "Bearer sk-llmgw-virtual-0123456789abcdef"}
    assert (await dash.client.get("/ui/api/deployments", headers=virtual)).status_code == 401
    assert (await dash.client.get("/ui/", headers=virtual)).status_code == 303
    basic = {"Authorization": f"Basic {MASTER}"}
    assert (await dash.client.get("/ui/api/summary", headers=basic)).status_code == 401


async def test_static_files_are_served_without_anything_external(dash: Dash) -> None:
    page = await dash.client.get("/ui/", headers=BEARER)
    assert page.status_code == 200
    assert "http://" not in page.text and "https://" not in page.text
    for name in ("dashboard.js", "dashboard.css"):
        asset = await dash.client.get(f"/ui/static/{name}")
        assert asset.status_code == 200 and len(asset.text) > 1000
        # No CDN, no web fonts: only the SVG namespace URI appears, never fetched.
        assert "https://" not in asset.text and "@import" not in asset.text and "url(" not in asset.text


# -- the API ------------------------------------------------------------------------------------------


async def test_summary_totals_are_exact(dash: Dash) -> None:
    body = (await dash.client.get("/ui/api/summary?range=24h", headers=BEARER)).json()
    assert body["ledger"] is True
    assert body["calls"] == TOTAL_CALLS and body["errors"] == 0 and body["cache_hits"] == 0
    # The same exact sum as the ledger, as a string.
    [total] = await dash.gateway.services.ledger.store.totals([])  # type: ignore[union-attr]
    assert body["cost"] == {"USD": format(total.cost.normalize(), "f")}
    assert Decimal(body["cost"]["USD"]) == total.cost > 0
    per_token = Decimal(PRICES["input_per_million"]) / 1_000_000
    assert total.cost >= per_token * body["prompt_tokens"]


@pytest.mark.parametrize(
    ("group", "expected"),
    [
        ("model", {"chat": 6, "summarize": 3}),
        ("key", {"k1": 7, "k2": 2}),
    ],
)
async def test_timeseries_by_group(dash: Dash, group: str, expected: dict[str, int]) -> None:
    body = (await dash.client.get(f"/ui/api/timeseries?range=1h&group={group}", headers=BEARER)).json()
    assert body["group"] == group and body["bucket_seconds"] == 60
    assert len(body["buckets"]) == 60
    assert {s["name"]: sum(s["calls"]) for s in body["series"]} == expected
    for series in body["series"]:
        assert len(series["cost"]) == 60 and all(isinstance(v, str) for v in series["cost"])
        assert sum(Decimal(v) for v in series["cost"]) == Decimal(series["total_cost"])
    assert sum(body["requests"]["calls"]) == TOTAL_CALLS
    assert body["series"][0]["name"] == max(expected, key=expected.__getitem__)  # biggest spender first


async def test_timeseries_by_deployment_and_ranges(dash: Dash) -> None:
    body = (await dash.client.get("/ui/api/timeseries?range=7d&group=deployment", headers=BEARER)).json()
    assert body["bucket_seconds"] == 7200 and len(body["buckets"]) == 84
    calls = {s["name"]: sum(s["calls"]) for s in body["series"]}
    assert set(calls) == {"chat-fast", "chat-slow", "summarize-a"} and sum(calls.values()) == TOTAL_CALLS
    day = (await dash.client.get("/ui/api/timeseries?range=24h", headers=BEARER)).json()
    assert day["group"] == "model" and day["bucket_seconds"] == 900 and len(day["buckets"]) == 96


async def test_bad_parameters_get_400_naming_the_choices(dash: Dash) -> None:
    for query, word in (("range=2h", "1h, 24h, 7d"), ("group=team", "model, deployment, key")):
        response = await dash.client.get(f"/ui/api/timeseries?{query}", headers=BEARER)
        assert response.status_code == 400 and word in response.json()["error"]["message"]
    response = await dash.client.get("/ui/api/recent?limit=lots", headers=BEARER)
    assert response.status_code == 400 and "whole number" in response.json()["error"]["message"]


async def test_recent_calls_newest_first(dash: Dash) -> None:
    body = (await dash.client.get("/ui/api/recent?limit=5", headers=BEARER)).json()
    calls = body["calls"]
    assert len(calls) == 5
    assert [c["time"] for c in calls] == sorted((c["time"] for c in calls), reverse=True)
    newest = calls[0]
    assert newest["model"] == "summarize" and newest["deployment"] == "summarize-a" and newest["key"] == "k1"
    assert newest["outcome"] == "ok" and newest["cache"] == "off" and newest["currency"] == "USD"
    assert isinstance(newest["cost"], str) and Decimal(newest["cost"]) > 0
    everything = (await dash.client.get("/ui/api/recent?limit=5000", headers=BEARER)).json()
    assert len(everything["calls"]) == TOTAL_CALLS  # capped at 500, there are fewer


async def test_deployments_health(dash: Dash) -> None:
    body = (await dash.client.get("/ui/api/deployments", headers=BEARER)).json()
    by_name = {d["name"]: d for d in body["deployments"]}
    assert set(by_name) == {"chat-fast", "chat-slow", "summarize-a"}
    summarize = by_name["summarize-a"]
    assert summarize["model"] == "summarize" and summarize["kind"] == "mock"
    assert summarize["samples"] == 3 and summarize["window_calls"] == 3
    assert summarize["latency_ewma_ms"] >= 8 and summarize["p95_ms"] >= 8
    assert summarize["breaker"] == "closed" and summarize["error_rate"] == 0 and summarize["in_flight"] == 0
    assert by_name["chat-fast"]["samples"] + by_name["chat-slow"]["samples"] == 6


async def test_without_a_ledger_usage_says_so_and_health_still_works(bare: Dash) -> None:
    for path in ("summary", "timeseries", "recent"):
        body = (await bare.client.get(f"/ui/api/{path}", headers=BEARER)).json()
        assert body == {"ledger": False, "message": "no usage ledger configured"}, path
    health = (await bare.client.get("/ui/api/deployments", headers=BEARER)).json()
    assert sum(d["samples"] for d in health["deployments"]) == TOTAL_CALLS
