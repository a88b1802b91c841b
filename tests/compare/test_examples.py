"""The examples are documentation that runs: each one's --help, each one end to end against a
mock-only config (fast, no model), and one on the real bundled model."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCRIPTS = (
    "translation",
    "summarization",
    "question_answering",
    "dialogue",
    "code_generation",
    "compare_providers",
)
GOOD_CODE = """```python
def is_palindrome(text):
    t = text.replace(' ', '').lower()
    return t == t[::-1]
```"""
MOCKS = {
    "models": {
        "echo": {
            "deployments": [{"name": "mock-echo", "provider": "mock", "pricing": {"per_request": "1e-3"}}]
        },
        "coder": {
            "deployments": [{"name": "mock-coder", "provider": "mock", "settings": {"reply": GOOD_CODE}}]
        },
    }
}


def start(script: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    command = [sys.executable, str(EXAMPLES / f"{script}.py"), *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def finish(process: subprocess.Popen[str], timeout: float = 60) -> str:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"{process.args}: {err[-3000:]}"
    return out


def test_every_example_answers_help() -> None:
    running = {script: start(script, "--help") for script in SCRIPTS}  # in parallel: imports take a while
    for script, process in running.items():
        out = finish(process)
        assert out.startswith("usage: ") and "--config" in out, script


def test_every_example_runs_against_a_mock_config(tmp_path: Path) -> None:
    config = tmp_path / "mocks.yaml"
    config.write_text(json.dumps(MOCKS), encoding="utf-8")  # JSON is YAML
    echo = ("--config", str(config), "--model", "echo")
    out_dir = tmp_path / "reports"
    compared_args = ["--config", str(config), "--models", "echo,coder", "--suite", "qa,code", "--limit", "2"]
    compared_args += ["--out", str(out_dir)]
    running = {
        "translation": start("translation", *echo),
        "summarization": start("summarization", *echo),
        "question_answering": start("question_answering", *echo),
        "dialogue": start("dialogue", *echo),
        "code_generation": start("code_generation", "--config", str(config), "--model", "coder"),
        "compare_providers": start("compare_providers", *compared_args),
    }
    out = {script: finish(process) for script, process in running.items()}

    translation = out["translation"]
    assert (
        "  -> French: You said: Translate from English to French: The weather is nice today." in translation
    )
    assert translation.count("-> German: ") == 2 and translation.count("[mock-echo, ") == 4
    assert "0.001 USD]" in translation
    assert out["summarization"].startswith("Summary: You said: Summarize this text in one sentence.")
    assert "(first token " in out["summarization"]  # streamed: its time to first token is known
    assert "A: You said: Who built the Eiffel Tower?" in out["question_answering"]

    dialogue = out["dialogue"]
    assert dialogue.count("bot> You said: ") == 3 and "7 messages so far" in dialogue
    # The whole history is sent each turn: the prompt grows (the mock counts words as tokens).
    prompts = [int(n) for n in re.findall(r"(\d+)\+\d+ tokens", dialogue)]
    assert len(prompts) == 3 and prompts[0] < prompts[1] < prompts[2]

    assert "def is_palindrome(text):" in out["code_generation"]
    assert "Tests passed" in out["code_generation"]

    compared = out["compare_providers"]
    assert "== qa" in compared and "== code" in compared and "code: best quality coder" in compared
    for name in ("summary.csv", "calls.csv", "result.json", "report.html", "charts/latency.png"):
        assert (out_dir / name).is_file(), name


@pytest.mark.model
def test_question_answering_on_the_bundled_model() -> None:
    question = "How tall is the Eiffel Tower?"
    out = finish(start("question_answering", question, "--max-tokens", "24"), timeout=240)
    asked, answer, meta = out.strip().splitlines()
    assert asked == f"Q: {question}"
    assert answer.startswith("A: ") and len(answer) > 5
    assert re.fullmatch(r"   \[local-smollm2, \d+ ms, \d+\+\d+ tokens, \d\.\d+ USD\]", meta), meta
