"""compare(): the whole run over mock deployments: records, scores, summaries, perplexity,
failures as records, argument errors, stopping early; and the package stays lazy."""

from __future__ import annotations

import asyncio
import io
import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from llmgateway import Gateway
from llmgateway.compare import CompareResult, Progress, compare, load_suite
from llmgateway.errors import ConfigError
from providers.mock import MockProvider, ServerError
from tests.compare.mock_models import InFlight, ScoringMock, answer_qa, qa_suite


def _translation_file(tmp_path: Path) -> Path:
    path = tmp_path / "greetings.jsonl"
    lines = [
        {"id": "t1", "task": "translation", "source": "Good morning.", "source_lang": "en",
         "target_lang": "fr", "reference": "Bonjour à tous."},
        {"id": "t2", "task": "translation", "source": "Thank you.", "source_lang": "en",
         "target_lang": "fr", "reference": "Merci beaucoup."},
    ]  # fmt: skip
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


async def test_compare_records_scores_and_summarises_every_model(tmp_path: Path) -> None:
    qa_suite(tmp_path, 4)
    right = MockProvider(answer_qa, name="right")
    wrong = MockProvider(lambda r: "no idea", name="wrong")
    out = io.StringIO()
    async with Gateway(models={"good": right, "bad": wrong}) as gw:
        result = await compare(
            gw, ["good", "bad"], [str(tmp_path / "facts.jsonl")], concurrency=2,
            progress=Progress(out, live=False), perplexity=False,
        )  # fmt: skip
        assert not right.closed  # a gateway passed in is left open
    assert (
        isinstance(result, CompareResult) and result.models == ["good", "bad"] and result.suites == ["facts"]
    )
    assert len(result.records) == 8 and all(r.ok for r in result.records)
    good, bad = result.summaries
    assert (good.model, bad.model) == ("good", "bad")
    assert good.quality == {"em": 100.0, "f1": 100.0} and bad.quality == {"em": 0.0, "f1": 0.0}
    assert all(r.scores["em"] == 100.0 for r in result.records if r.model == "good")
    assert good.latency_p50_ms is not None and good.calls == 4 and good.errors == 0
    settings = result.settings
    assert (
        settings["concurrency"] == 2 and settings["interrupted"] is False and settings["perplexity"] is False
    )
    assert settings["suites"]["facts"] == {"task": "qa", "items": 4, "source": str(tmp_path / "facts.jsonl")}
    assert result.started_at <= result.finished_at
    assert "calls: 8/8 100%" in out.getvalue() and "scoring: 8/8 100%" in out.getvalue()
    assert CompareResult.from_dict(json.loads(json.dumps(result.to_dict()))).summaries == result.summaries


async def test_failing_model_gives_error_records_and_the_run_completes(tmp_path: Path) -> None:
    down = MockProvider(name="down", script=[ServerError(500)], repeat=True)
    async with Gateway(models={"up": MockProvider(answer_qa), "down": down}) as gw:
        result = await compare(gw, ["up", "down"], [qa_suite(tmp_path, 3).source], progress=False)
    failed = [r for r in result.records if r.model == "down"]
    assert len(failed) == 3 and not any(r.ok for r in failed)
    assert {r.error_type for r in failed} == {"UpstreamServerError"} and all(r.retries == 2 for r in failed)
    up, summary = result.summaries
    assert up.errors == 0 and up.quality["em"] == 100.0
    assert (summary.errors, summary.retries, summary.quality) == (3, 6, {"em": 0.0, "f1": 0.0})


async def test_perplexity_once_per_model_and_suite_with_references(tmp_path: Path) -> None:
    half = ScoringMock(lambda r: "Bonjour.", name="half", logprob=math.log(0.5))
    quarter = ScoringMock(lambda r: "Merci.", name="quarter", logprob=math.log(0.25))
    suites = [str(_translation_file(tmp_path)), qa_suite(tmp_path, 2).source]
    async with Gateway(models={"a": half, "b": quarter}) as gw:
        result = await compare(gw, ["a", "b"], suites, progress=False)
        skipped = await compare(gw, ["a"], suites[:1], progress=False, perplexity=False)
    by_key = {(s.model, s.suite): s for s in result.summaries}
    assert by_key[("a", "greetings")].perplexity == pytest.approx(2.0)
    assert by_key[("b", "greetings")].perplexity == pytest.approx(4.0)
    assert by_key[("a", "facts")].perplexity is None  # QA has no reference texts
    # Each reference scored once per model, and only by the run that asked for it.
    assert sorted(half.scored) == ["Bonjour à tous.", "Merci beaucoup."] == sorted(quarter.scored)
    assert skipped.summaries[0].perplexity is None and "bleu" in skipped.summaries[0].quality


async def test_stop_reports_what_finished(tmp_path: Path) -> None:
    stop = asyncio.Event()
    counter = InFlight(seconds=0.005)
    handler = counter.handler("m")

    async def answer_then_stop(request: object) -> str:
        if len(counter.order) == 5:
            stop.set()
        return str(await handler(request))

    async with Gateway(models={"m": MockProvider(answer_then_stop)}) as gw:
        result = await compare(
            gw, ["m"], [qa_suite(tmp_path, 40).source], concurrency=2, progress=False, stop=stop
        )
    assert result.settings["interrupted"] is True
    assert 4 <= len(result.records) <= 6 and all(r.ok and r.scores for r in result.records)
    summary = result.summaries[0]
    assert summary.calls == len(result.records) and summary.quality["em"] == 100.0


async def test_stop_during_perplexity_keeps_every_call_and_marks_the_run(tmp_path: Path) -> None:
    stop = asyncio.Event()

    class Stopping(ScoringMock):
        async def completions(self, request: Any, *, timeout: float | None = None) -> Any:
            stop.set()
            await asyncio.sleep(10)  # cancelled by the stop
            return await super().completions(request, timeout=timeout)

    provider = Stopping(lambda r: "Bonjour.", logprob=-1.0)
    started = time.perf_counter()
    async with Gateway(models={"m": provider}) as gw:
        result = await compare(gw, ["m"], [str(_translation_file(tmp_path))], progress=False, stop=stop)
    assert time.perf_counter() - started < 5
    assert result.settings["interrupted"] is True and len(result.records) == 2
    assert result.summaries[0].perplexity is None and "bleu" in result.summaries[0].quality


async def test_concurrency_limit_and_first_items_only(tmp_path: Path) -> None:
    counter = InFlight()
    models = {name: MockProvider(counter.handler(name)) for name in ("a", "b")}
    async with Gateway(models=models) as gw:
        result = await compare(gw, ["a", "b"], [qa_suite(tmp_path, 8).source], concurrency=3, limit=5,
                               progress=False)  # fmt: skip
    assert counter.peak == 3 and len(result.records) == 10
    assert {r.item_id for r in result.records} == {f"q{i}" for i in range(5)}
    assert result.settings["suites"]["facts"]["items"] == 5 and result.settings["limit"] == 5


async def test_config_mapping_builds_and_closes_its_own_gateway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[Gateway] = []
    close = Gateway.aclose

    async def recording_close(self: Gateway) -> None:
        closed.append(self)
        await close(self)

    monkeypatch.setattr(Gateway, "aclose", recording_close)
    config = {"models": {"m": {"deployments": [{"provider": "mock", "settings": {"reply": "answer 0"}}]}}}
    result = await compare(config, ["m"], [qa_suite(tmp_path, 1).source], progress=False)
    assert result.summaries[0].quality["em"] == 100.0 and len(closed) == 1


@pytest.mark.parametrize(
    ("models", "suites", "kwargs", "message"),
    [
        (
            ["m", "ghost", "spook"],
            ["qa"],
            {},
            r"unknown model 'ghost', 'spook': the config's models are m, n",
        ),
        ([], ["qa"], {}, r"no models given"),
        (["m", "m"], ["qa"], {}, r"model 'm' is listed more than once"),
        (["m"], ["poetry"], {}, r"unknown suite 'poetry': the built-in suites are translation"),
        (["m"], [], {}, r"no suites given"),
        (["m"], ["qa", "qa"], {}, r"suite 'qa' is given twice"),
        (["m"], ["qa"], {"concurrency": 0}, r"concurrency must be at least 1"),
        (["m"], ["qa"], {"limit": 0}, r"limit must be at least 1"),
        (["m"], ["qa"], {"max_tokens": 0}, r"max_tokens must be at least 1"),
        (["m"], ["qa"], {"temperature": -1.0}, r"temperature must be between 0 and 2"),
    ],
)
async def test_bad_arguments_raise_config_errors(
    models: list[str], suites: list[str], kwargs: dict[str, object], message: str
) -> None:
    provider = MockProvider()
    async with Gateway(models={"m": provider, "n": MockProvider()}) as gw:
        with pytest.raises(ConfigError, match=message):
            await compare(gw, models, suites, progress=False, **kwargs)  # type: ignore[arg-type]
    assert len(provider.calls) == 0


def test_api_is_lazy_and_importable() -> None:
    from llmgateway.compare import compare as again
    from llmgateway.compare import load_suite as loader

    assert again is compare and loader is load_suite and loader("code").task == "code"
    code = (
        "import sys, llmgateway, llmgateway.cli; llmgateway.cli.build_parser(); "
        "bad = [m for m in sys.modules if m.startswith('llmgateway.compare.') or m.split('.')[0] in "
        "('sacrebleu', 'rouge_score', 'matplotlib')]; print(bad)"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "['llmgateway.compare.cli_compare']"
