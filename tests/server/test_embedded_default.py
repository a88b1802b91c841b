"""`llmgateway serve` with no config: the embedded default, the bundled SmolLM2 loaded in process
before the proxy says it is ready, answering a real question through the official openai client."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest

from tests.server.harness import free_port

pytestmark = [pytest.mark.model, pytest.mark.integration]


def test_the_embedded_default_answers_with_the_bundled_model(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "llmgateway", "serve", "--port", str(port), "--log-level", "warning"],
        cwd=tmp_path,  # the embedded default keeps its ledger in the working directory
        env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).parents[2])},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 240
        while True:
            assert process.poll() is None, "the proxy exited during start-up"
            try:
                if httpx.get(f"{url}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "not ready in time"
            time.sleep(0.5)
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="local")
        started = time.monotonic()
        raw = client.chat.completions.with_raw_response.create(
            model="smollm2",
            messages=[{"role": "user", "content": "What is the capital of France?"}],
            max_tokens=24,
            temperature=0,
        )
        took = time.monotonic() - started
        reply = raw.parse()
        assert "Paris" in (reply.choices[0].message.content or "")
        assert raw.headers["x-llmgateway-deployment"] == "local-smollm2"
        assert reply.usage is not None and reply.usage.completion_tokens > 0
        assert took < 15  # the model was loaded before ready, not by this first call
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    # uvicorn shuts down gracefully, then ends by the signal it got (-SIGTERM) as a process should.
    assert process.returncode in (0, -signal.SIGTERM), stderr.decode()[-2000:]
    with sqlite3.connect(tmp_path / "llmgateway_usage.sqlite") as ledger:
        assert ledger.execute("SELECT count(*) FROM llm_usage").fetchone() == (1,)
