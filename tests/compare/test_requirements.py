"""Without the eval extra, a comparison stops before its first call with an error naming it."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from llmgateway.cli import main
from llmgateway.compare import compare
from llmgateway.compare.requirements import missing_libraries, require_eval_libraries
from llmgateway.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "compare_providers.py"
MOCK_CONFIG = {"models": {"m": {"deployments": [{"provider": "mock"}]}}}


def _hide(monkeypatch: pytest.MonkeyPatch, *hidden: str) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name in hidden else real(name, *args)

    monkeypatch.setattr("llmgateway.compare.requirements.find_spec", find_spec)


def test_each_task_needs_only_its_own_libraries(monkeypatch: pytest.MonkeyPatch) -> None:
    _hide(monkeypatch, "sacrebleu", "rouge_score", "matplotlib")
    assert missing_libraries(["qa", "code"], charts=False) == []
    assert missing_libraries(["translation"], charts=False) == ["sacrebleu"]
    assert missing_libraries(["chat"], charts=True) == ["matplotlib", "rouge_score", "sacrebleu"]
    with pytest.raises(ConfigError, match=r"rouge_score.*pip install 'llmgateway\[eval\]'"):
        require_eval_libraries(["summarization"], charts=False)
    with pytest.raises(ConfigError, match="--no-charts"):
        _hide(monkeypatch, "matplotlib")
        require_eval_libraries([], charts=True)


async def test_compare_refuses_before_any_call(monkeypatch: pytest.MonkeyPatch) -> None:
    _hide(monkeypatch, "sacrebleu")
    calls: list[str] = []
    monkeypatch.setattr("llmgateway.compare.api.warm_up", lambda *a: calls.append("warm"))
    with pytest.raises(ConfigError, match="sacrebleu"):
        await compare(MOCK_CONFIG, ["m"], ["translation"], progress=False)
    assert calls == []
    # A suite whose metrics need no extra library still runs.
    monkeypatch.undo()
    _hide(monkeypatch, "sacrebleu", "rouge_score")
    result = await compare(MOCK_CONFIG, ["m"], ["qa"], limit=2, progress=False, perplexity=False)
    assert len(result.records) == 2


def _cli(tmp_path: Path, suites: str, *flags: str) -> int:
    config = tmp_path / "gateway.yaml"
    config.write_text(json.dumps(MOCK_CONFIG))
    return main(
        ["compare", "--config", str(config), "--models", "m", "--suite", suites,
         "--out", str(tmp_path / "out"), "--limit", "1", "--no-progress", "--no-perplexity", *flags]
    )  # fmt: skip


def test_the_cli_exits_2_without_matplotlib_unless_charts_are_off(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _hide(monkeypatch, "matplotlib")
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # and importing it fails, as when not installed
    assert _cli(tmp_path, "qa") == 2
    err = capsys.readouterr().err
    assert "pip install 'llmgateway[eval]'" in err and "--no-charts" in err
    assert not (tmp_path / "out").exists()
    # With --no-charts the same run completes and writes every report but the charts.
    assert _cli(tmp_path, "qa", "--no-charts") == 0
    written = {p.name for p in (tmp_path / "out").iterdir()}
    assert written == {"summary.csv", "calls.csv", "result.json", "report.html"}


def test_the_cli_lists_every_missing_library_at_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _hide(monkeypatch, "matplotlib", "sacrebleu")
    calls: list[str] = []
    monkeypatch.setattr("llmgateway.compare.api.warm_up", lambda *a: calls.append("warm"))
    assert _cli(tmp_path, "qa,translation") == 2
    err = capsys.readouterr().err
    # One error naming both; turning the charts off would not be enough, so it is not suggested.
    assert "matplotlib, sacrebleu" in err and "--no-charts" not in err
    assert calls == [] and not (tmp_path / "out").exists()


def test_write_reports_without_matplotlib_refuses_before_writing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from llmgateway.compare.report import write_reports
    from tests.compare.report_fixtures import make_result

    _hide(monkeypatch, "matplotlib")
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ConfigError, match=r"matplotlib.*charts=False"):
        write_reports(make_result(), tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert len(write_reports(make_result(), tmp_path / "out", charts=False)) == 4


def test_the_example_refuses_before_its_calls_when_it_could_not_chart(tmp_path: Path) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text(json.dumps(MOCK_CONFIG))
    argv = ["compare_providers.py", "--config", str(config), "--models", "m", "--suite", "qa",
            "--limit", "1", "--out", str(tmp_path / "out")]  # fmt: skip
    script = (
        "import runpy, sys; sys.modules['matplotlib'] = None; "
        f"sys.argv = {argv!r}; runpy.run_path({str(EXAMPLE)!r}, run_name='__main__')"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "matplotlib" in done.stderr and "--no-charts" in done.stderr
    assert "Traceback" not in done.stderr and "== qa" not in done.stdout
    assert not (tmp_path / "out").exists()
