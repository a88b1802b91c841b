"""Without the eval extra, a comparison stops before its first call with an error naming it."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from llmgateway.compare import compare
from llmgateway.compare.cli_compare import run_compare
from llmgateway.compare.requirements import missing_libraries, require_eval_libraries
from llmgateway.errors import ConfigError

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


def test_the_cli_exits_2_without_matplotlib_unless_charts_are_off(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    _hide(monkeypatch, "matplotlib")
    args = argparse.Namespace(out=tmp_path / "out", no_charts=False)
    assert run_compare(args) == 2
    assert "pip install 'llmgateway[eval]'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
