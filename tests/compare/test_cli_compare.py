"""``llmgateway compare``: a run over mock deployments prints the table and writes the reports;
bad arguments and config exit 2 with a message that lists what would be valid."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmgateway.cli import main

CONFIG = """
models:
  fast:
    deployments:
      - name: fast-1
        provider: mock
        settings: {reply: "answer 1", latency_ms: 2}
        pricing: {input_per_million: 5, output_per_million: 15}
  broken:
    deployments:
      - name: broken-1
        provider: mock
        settings: {script: [{fault: error, status: 500}], repeat: true}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(CONFIG)
    return path


def _run(*args: str) -> int:
    return main(["compare", *args])


def test_a_run_prints_the_table_and_writes_the_reports(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report"
    code = _run(
        "--config", str(config), "--models", "fast,broken", "--suite", "qa,code", "--out", str(out),
        "--limit", "2", "--concurrency", "3", "--max-tokens", "20", "--temperature", "0.5",
        "--no-charts", "--no-progress", "--no-perplexity",
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0  # failed calls are in the report, not the exit status
    assert "fast" in captured.out and "broken" in captured.out and "== qa" in captured.out
    assert {p.name for p in out.iterdir()} == {"summary.csv", "calls.csv", "result.json", "report.html"}
    assert f"wrote {out / 'report.html'}" in captured.err and "calls:" not in captured.err
    result = json.loads((out / "result.json").read_text())
    assert result["models"] == ["fast", "broken"] and result["suites"] == ["qa", "code"]
    settings = result["settings"]
    assert (settings["limit"], settings["concurrency"], settings["max_tokens"]) == (2, 3, 20)
    assert settings["temperature"] == 0.5 and settings["perplexity"] is False
    records = result["records"]
    assert len(records) == 8
    assert all(
        not r["ok"] and r["error_type"] == "UpstreamServerError" for r in records if r["model"] == "broken"
    )
    assert all(r["ok"] for r in records if r["model"] == "fast")


def test_progress_goes_to_stderr_unless_disabled(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _run("--config", str(config), "--models", "fast", "--suite", "qa", "--limit", "1",
                "--out", str(tmp_path / "o"), "--no-charts", "--no-perplexity")  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0 and "calls: 1/1 100%" in captured.err and "calls:" not in captured.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--models", "fast,ghost"], r"unknown model 'ghost': the config's models are fast, broken"),
        (["--models", "fast", "--suite", "qa,poetry"],
         r"unknown suite 'poetry': the built-in suites are translation, summarization, qa, chat, code"),
        (["--models", "fast", "--suite", "missing/file.jsonl"],
         r"suite file missing/file.jsonl does not exist"),
    ],
)  # fmt: skip
def test_unknown_models_and_suites_exit_2_listing_the_valid_ones(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    out = tmp_path / "never"
    assert _run("--config", str(config), "--out", str(out), *args) == 2
    err = capsys.readouterr().err
    assert err.startswith("llmgateway compare: error: ") and message in err
    assert not out.exists()


def test_an_out_path_that_cannot_hold_reports_exits_2_before_the_run(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    taken = tmp_path / "taken"
    taken.write_text("a file")
    for out, message in ((taken, "is a file"), (taken / "sub", f"cannot create or write into {taken}")):
        assert _run("--config", str(config), "--models", "fast", "--out", str(out)) == 2
        assert message in capsys.readouterr().err


def test_a_bad_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.yaml"
    assert _run("--config", str(missing), "--models", "m", "--out", str(tmp_path / "o")) == 2
    assert "nope.yaml" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--concurrency", "0"], "argument --concurrency: must be at least 1, got 0"),
        (["--limit", "ten"], "argument --limit: expected a whole number, got 'ten'"),
        (["--max-tokens", "-5"], "argument --max-tokens: must be at least 1, got -5"),
        (["--temperature", "3"], "argument --temperature: must be between 0 and 2, got 3.0"),
        (["--temperature", "hot"], "argument --temperature: expected a number, got 'hot'"),
    ],
)
def test_bad_numbers_are_argument_errors(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        _run("--config", str(config), "--models", "fast", "--out", str(tmp_path / "o"), *args)
    assert exited.value.code == 2 and message in capsys.readouterr().err


def test_required_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        _run("--models", "fast")
    assert exited.value.code == 2
    assert "the following arguments are required: --config, --out" in capsys.readouterr().err


def test_help_describes_the_options_and_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _run("--help")
    text = " ".join(capsys.readouterr().out.split())
    options = "--config --models --suite --out --concurrency --limit --max-tokens --temperature --use-cache"
    for option in [*options.split(), "--no-perplexity", "--no-progress", "--no-charts"]:
        assert option in text
    assert "default: all built-ins" in text and "0 for a completed run" in text and "130" in text
