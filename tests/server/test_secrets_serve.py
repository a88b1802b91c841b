"""`llmgateway serve` as a user runs it: its help, and everything it prints while it starts, serves
failing calls at DEBUG level and stops, holds none of the config's secrets."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.server.harness import free_port

MASTER = "serve-master-key-MMM-0123456789"
API_KEY = "serve-api-key-value-AAA"
QUERY_KEY = "serve-query-key-QQQ"
SESSION_TOKEN = "serve-session-token-TTT"
SECRET_KEY = "serve-secret-access-key-SSS"
SECRETS = [MASTER, API_KEY, QUERY_KEY, SESSION_TOKEN, SECRET_KEY]

CONFIG = """
models:
  chat:
    routing: {retry: {max_rounds: 1}}
    deployments:
      - provider: openai
        settings:
          base_url: "http://127.0.0.1:9/v1"
          api_key: "${SERVE_API_KEY}"
          query: {key: "${SERVE_QUERY_KEY}"}
  sm:
    routing: {retry: {max_rounds: 1}}
    deployments:
      - provider: sagemaker
        settings:
          endpoint_name: ep
          region: us-east-1
          endpoint_url: "http://127.0.0.1:9"
          access_key_id: AKIAZZZZ0000SERVE000
          secret_access_key: "${SERVE_SECRET_KEY}"
          session_token: "${SERVE_SESSION_TOKEN}"
ledger: {backend: off}
server: {master_key: "${SERVE_MASTER}"}
"""


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "SERVE_API_KEY": API_KEY,
        "SERVE_QUERY_KEY": QUERY_KEY,
        "SERVE_SECRET_KEY": SECRET_KEY,
        "SERVE_SESSION_TOKEN": SESSION_TOKEN,
        "SERVE_MASTER": MASTER,
    }


def test_serve_help_holds_no_secret() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "llmgateway", "serve", "--help"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
    )
    assert done.returncode == 0 and "--config" in done.stdout
    assert not [s for s in SECRETS if s in done.stdout + done.stderr]


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_output_holds_no_secret_at_debug(tmp_path: Path, workers: int) -> None:
    """With --workers 2 the spawned workers log the calls: each scrubs its own logs."""
    config = tmp_path / "gateway.yaml"
    config.write_text(CONFIG)
    port = free_port()
    command = [sys.executable, "-m", "llmgateway", "serve", "--config", str(config), "--port", str(port)]
    command += ["--workers", str(workers)]
    process = subprocess.Popen(
        [*command, "--log-level", "debug"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(),
        cwd=tmp_path,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        auth = {"authorization": f"Bearer {MASTER}"}
        answers = []
        for model in ("chat", "sm"):
            body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
            for stream in (False, True):
                answer = httpx.post(
                    f"{url}/v1/chat/completions", json={**body, "stream": stream}, headers=auth
                )
                answers.append(answer.text)
        assert any("could not reach" in a for a in answers), answers  # the calls failed as planned
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert "botocore" in output  # DEBUG logging was really on (botocore logs the signed request)
    leaks = [s for s in SECRETS if s in output + "".join(answers)]
    assert leaks == [], output[-4000:]
