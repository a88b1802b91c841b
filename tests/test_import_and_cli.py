"""Import cost and the command line, in fresh interpreters."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("torch", "transformers", "botocore", "google.auth", "starlette", "uvicorn")


def run_python(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60
    ).stdout.strip()


def test_import_loads_no_heavy_library() -> None:
    for statement in ("import llmgateway", "from llmgateway import Gateway, SyncGateway"):
        loaded = run_python(
            f"import sys; {statement}; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
        )
        assert loaded == "", f"{statement} imported {loaded}"


def test_cli_version_help_and_check(tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "llmgateway"]
    version = subprocess.run([*cli, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("llmgateway ")
    help_text = subprocess.run([*cli, "--help"], capture_output=True, text=True, check=True).stdout
    assert "check" in help_text and "chat" in help_text
    config = tmp_path / "gw.yaml"
    config.write_text("models:\n  chat:\n    deployments:\n      - {name: m, provider: mock}\n")
    checked = subprocess.run([*cli, "check", str(config)], capture_output=True, text=True, check=True)
    assert "chat: m (mock)" in checked.stdout
    chat = subprocess.run(
        [*cli, "chat", "--config", str(config), "--model", "chat", "hello"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "You said: hello" in chat.stdout and "deployment m" in chat.stderr
    config.write_text("models:\n  chat:\n    deployments:\n      - {provider: nope}\n")
    bad = subprocess.run([*cli, "check", str(config)], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown provider 'nope'" in bad.stderr


def test_the_example_config_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    from llmgateway.cli import main

    example = Path(__file__).parents[1] / "examples" / "gateway.yaml"
    assert main(["check", str(example)]) == 0
    assert "config OK" in capsys.readouterr().out
