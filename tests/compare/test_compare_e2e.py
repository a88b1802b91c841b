"""End to end: ``llmgateway compare`` on examples/compare.yaml - the bundled model in process and
two mock deployments (fast and expensive, slow and cheap) on all five built-in suites - prints the
table and writes the CSVs, the JSON, the three charts and the HTML page, with sane numbers."""

from __future__ import annotations

import base64
import csv
import json
import os
import struct
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from llmgateway.compare.records import TASKS, CompareResult

ROOT = Path(__file__).resolve().parents[2]
MODELS = ("smollm2", "fast-expensive", "slow-cheap")
# examples/compare.yaml: fast-expensive costs 2.50 / 10.00 per million tokens, slow-cheap 0.05 / 0.20;
# both mocks echo the same prompts, so they count the same tokens and one costs exactly 50x the other.
PRICE_RATIO = Decimal(50)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    out = tmp_path_factory.mktemp("compare") / "out"
    command = [
        sys.executable, "-m", "llmgateway", "compare", "--config", str(ROOT / "examples" / "compare.yaml"),
        "--models", ",".join(MODELS), "--suite", ",".join(TASKS), "--out", str(out), "--limit", "2",
        "--max-tokens", "48", "--no-progress",
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout, out


def summary_rows(out: Path) -> dict[tuple[str, str], dict[str, str]]:
    with (out / "summary.csv").open(newline="", encoding="utf-8") as handle:
        return {(row["model"], row["suite"]): row for row in csv.DictReader(handle)}


@pytest.mark.model
def test_the_table_has_every_model_on_every_suite(run: tuple[str, Path]) -> None:
    table, _ = run
    blocks = table.split("\n== ")[1:]
    assert [block.split(":")[0] for block in blocks] == list(TASKS)
    for block in blocks:
        rows = [line.split()[0] for line in block.splitlines() if line.split() and line.split()[0] in MODELS]
        assert rows == list(MODELS), block
    assert "Failed calls:" not in table


@pytest.mark.model
def test_the_numbers_follow_the_deployments_settings(run: tuple[str, Path]) -> None:
    _, out = run
    rows = summary_rows(out)
    assert sorted(rows) == sorted((model, suite) for model in MODELS for suite in TASKS)
    for suite in TASKS:
        fast, slow, local = rows["fast-expensive", suite], rows["slow-cheap", suite], rows["smollm2", suite]
        assert all(row["calls"] == "2" and row["errors"] == "0" for row in (fast, slow, local))
        # slow-cheap: 400-600 ms before its first token, 12 ms per token; fast-expensive: 30-50 ms, 2 ms.
        assert float(slow["latency_p50_ms"]) > float(fast["latency_p50_ms"])
        assert float(slow["ttft_p50_ms"]) > 350 > 100 > float(fast["ttft_p50_ms"])
        assert float(fast["tokens_per_s"]) > float(slow["tokens_per_s"]) > 0
        assert Decimal(fast["cost_per_call"]) == PRICE_RATIO * Decimal(slow["cost_per_call"]) > 0
        assert Decimal(local["cost_per_call"]) > 0  # per compute second
        assert local["currency"] == fast["currency"] == "USD"
        assert 0 <= float(local["primary"]) <= 100
    assert float(rows["smollm2", "translation"]["perplexity"]) > 1  # the local model scores text
    assert rows["fast-expensive", "translation"]["perplexity"] == ""  # a mock cannot


@pytest.mark.model
def test_calls_csv_and_result_json(run: tuple[str, Path]) -> None:
    _, out = run
    with (out / "calls.csv").open(newline="", encoding="utf-8") as handle:
        calls = list(csv.DictReader(handle))
    assert len(calls) == len(MODELS) * len(TASKS) * 2 and all(call["ok"] == "True" for call in calls)
    assert {call["deployment"] for call in calls} == {"local-smollm2", "mock-fast", "mock-slow"}
    assert all(call["pass@1"] in ("0.0", "100.0") for call in calls if call["suite"] == "code")
    result = CompareResult.from_dict(json.loads((out / "result.json").read_text(encoding="utf-8")))
    assert result.models == list(MODELS) and len(result.records) == len(calls)
    assert result.settings  # the run's options travel with it
    assert CompareResult.from_dict(result.to_dict()) == result


@pytest.mark.model
def test_the_charts_and_the_page(run: tuple[str, Path]) -> None:
    _, out = run
    page = (out / "report.html").read_text(encoding="utf-8")
    for name in ("cost_vs_quality.png", "latency.png", "throughput.png"):
        data = (out / "charts" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", name
        width, height = struct.unpack(">II", data[16:24])
        assert 800 <= width <= 2000 and 500 <= height <= 1200 and len(data) > 30_000, name
        assert f'src="data:image/png;base64,{base64.b64encode(data).decode()}"' in page, name
    assert all(f'<td class="key">{model}</td>' in page for model in MODELS)
    assert "No call failed." in page and "http://" not in page and "<script" not in page
