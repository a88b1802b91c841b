"""The dashboard in a real headless Chromium: the page's JS fetches the API and draws the charts;
the dumped DOM and a screenshot are checked. Needs Debian's chromium (``apt-get install chromium``);
without it this test fails, it never skips."""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
import struct
import subprocess
import threading
import zlib
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette

from llmgateway.client import Gateway
from tests.server.dashboard_fixtures import (
    CALLS,
    MASTER,
    dashboard_app,
    gateway_config,
    history,
    make_calls,
    server_state,
)

WINDOW = (1400, 1000)


def chromium() -> str:
    path = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if path is None:
        pytest.fail("the dashboard browser test needs Debian's chromium: sudo apt-get install chromium")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerThread:
    """uvicorn serving ``app`` on 127.0.0.1 from its own thread and event loop."""

    def __init__(self, app: Starlette) -> None:
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()), daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        for _ in range(200):
            if self.server.started:
                return self
            self.thread.join(0.025)
        raise RuntimeError("uvicorn did not start within 5 s")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def run_chromium(profile: Path, *args: str) -> str:
    command = [
        chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-extensions", "--disable-background-networking", "--hide-scrollbars",
        f"--user-data-dir={profile}", "--virtual-time-budget=5000", *args,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def png_size_and_pixels(path: Path) -> tuple[int, int, bytes]:
    """Width, height and raw (filtered) scanlines of a non-interlaced PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    chunks, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind = data[at + 4 : at + 8]
        if kind == b"IDAT":
            chunks.append(data[at + 8 : at + 8 + length])
        at += 12 + length
    return width, height, zlib.decompress(b"".join(chunks))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServerThread]:
    async def prepare() -> Gateway:
        gateway = Gateway(gateway_config(tmp_path))
        assert gateway.services.ledger is not None
        await gateway.services.ledger.store.write(history(datetime.now(timezone.utc)))
        await make_calls(gateway)
        return gateway

    # The calls are made first, on their own loop; the dashboard only reads the store and the stats.
    gateway = asyncio.run(prepare())
    try:
        with ServerThread(dashboard_app(server_state(gateway))) as server:
            yield server
    finally:
        asyncio.run(gateway.aclose())


def test_dashboard_draws_its_charts_in_chromium(served: ServerThread, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{served.port}/ui/?key={MASTER}"  # signs in, then redirects to /ui/
    dom = run_chromium(tmp_path / "profile-dom", "--dump-dom", url)

    assert 'data-loaded="true"' in dom, dom[:2000]
    assert "Update failed" not in dom

    def section(testid: str) -> str:
        match = re.search(rf'data-testid="{testid}"(.*?)</(?:div|ul)>\s*(?:<ul|</section>)', dom, re.S)
        assert match, f"{testid} missing"
        return match.group(1)

    for testid in ("chart-cost", "chart-requests", "chart-health"):
        chart = section(testid)
        assert "<svg" in chart and "<title>" in chart and 'aria-label="' in chart, testid
        assert len(re.findall(r"<(?:path|rect)\b", chart)) > 0, testid
    assert len(re.findall(r"<path\b", section("chart-cost"))) >= 2  # one area per model
    assert len(re.findall(r"<rect\b", section("chart-requests"))) >= 1  # the calls' bars

    cost_legend = re.findall(r'data-testid="legend-item" data-name="([^"]+)"', section("legend-cost"))
    assert set(cost_legend) == {model for model, _, _ in CALLS}
    health = section("chart-health")
    for name in ("chat-fast", "chat-slow", "summarize-a"):
        assert f'data-deployment="{name}"' in health
    assert health.count('data-breaker="closed"') == 3

    rows = re.findall(r'<tr data-testid="recent-row"[^>]*>(.*?)</tr>', dom, re.S)
    assert len(rows) == 50  # the page asks for the 50 newest
    calls = rows[: sum(count for _, _, count in CALLS)]  # the calls just made, newest first
    assert [">summarize<" in row for row in calls] == [True] * 3 + [False] * 6
    assert sum(">k2<" in row for row in calls) == 2 and all("USD" in row for row in rows)
    assert any("ServerError" in row for row in rows)  # an older failed call from the history

    shot = tmp_path / "dashboard.png"
    run_chromium(
        tmp_path / "profile-shot", f"--screenshot={shot}", f"--window-size={WINDOW[0]},{WINDOW[1]}", url
    )
    width, height, pixels = png_size_and_pixels(shot)
    assert (width, height) == WINDOW
    assert shot.stat().st_size > 20_000  # a blank page compresses to a few KB
    assert len(set(pixels[::97])) > 30  # many distinct byte values: drawn, not blank
