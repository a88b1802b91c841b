"""Ctrl-C stops ``llmgateway compare`` cleanly: the calls that finished are scored and written,
the exit status is 130."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

CONFIG = """
models:
  slow:
    deployments:
      - {name: slow-1, provider: mock, settings: {reply: "answer 0", latency_ms: 150}}
"""


def test_ctrl_c_writes_what_finished_and_exits_130(tmp_path: Path) -> None:
    config, out = tmp_path / "gateway.yaml", tmp_path / "report"
    config.write_text(CONFIG)
    args = ["--config", str(config), "--models", "slow", "--suite", "qa", "--out", str(out),
            "--concurrency", "1", "--no-charts"]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "llmgateway", "compare", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        first = process.stderr.readline()  # the calls phase has begun: its first progress line
        assert first.startswith("calls: 0/24"), first
        time.sleep(0.5)  # a few 150 ms calls finish
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert "stopping (Ctrl-C again to abort)" in stderr and "stopped early" in stderr
    result = json.loads((out / "result.json").read_text())
    assert result["settings"]["interrupted"] is True
    assert 1 <= len(result["records"]) < 24 and all(r["ok"] for r in result["records"])
    assert result["summaries"][0]["calls"] == len(result["records"]) and "== qa" in stdout
