"""The runner measures every call the same way, records failures as records, honours its
concurrency bound, interleaves models and stops cleanly."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path

import pytest

from llmgateway import Deployment, Gateway
from llmgateway.accounting.pricing import Pricing
from llmgateway.compare.runner import CallOptions, Job, interleave, measure_call, run_bounded
from providers.mock import DropStream, MockProvider, ServerError
from tests.compare.mock_models import SIX_WORDS, InFlight, item, qa_suite

PRICING = Pricing(input_per_million=Decimal("2"), output_per_million=Decimal("10"))


async def test_ttft_latency_tokens_rate_and_exact_cost_of_a_streamed_call() -> None:
    # 50 ms before the stream starts, then one word every 10 ms.
    provider = MockProvider(lambda r: SIX_WORDS, name="dep", latency=0.05, chunk_interval=0.01)
    async with Gateway(models={"m": Deployment("dep", provider, pricing=PRICING)}) as gw:
        record = await measure_call(gw, Job("m", "s", item()), CallOptions())
    assert record.ok and record.error is None and record.output == SIX_WORDS
    assert (record.model, record.suite, record.item_id, record.deployment) == ("m", "s", "i1", "dep")
    assert record.ttft_ms is not None and 58 <= record.ttft_ms < 400
    assert record.latency_ms >= 108 and record.latency_ms > record.ttft_ms + 45
    assert record.output_tokens == 6 and record.retries == 0 and record.cache == "off"
    # Five tokens after the first, one per 10 ms at best.
    assert record.tokens_per_s is not None and 20 < record.tokens_per_s <= 105
    prompt_tokens = len("Say six words".split())
    assert record.cost == (Decimal(2) * prompt_tokens + Decimal(10) * 6) / 1_000_000
    assert record.currency == "USD" and not record.cost_estimated


async def test_request_carries_temperature_max_tokens_and_skips_the_cache() -> None:
    provider = MockProvider(lambda r: "fine")
    async with Gateway(models={"m": provider}, cache={"backend": "memory"}) as gw:
        first = await measure_call(gw, Job("m", "s", item()), CallOptions(temperature=0.0))
        cached = CallOptions(max_tokens=7, use_cache=True)
        second, third = [await measure_call(gw, Job("m", "s", item()), cached) for _ in range(2)]
    assert [r.cache for r in (first, second, third)] == ["skip", "miss", "hit"]
    assert provider.calls[0].max_tokens == 16 and provider.calls[0].temperature == 0.0  # the item's
    assert provider.calls[1].max_tokens == 7
    assert third.cost == 0 and third.ok


async def test_a_503_then_success_is_one_retry() -> None:
    provider = MockProvider(lambda r: "ok now", name="flaky", script=[ServerError(503)])
    async with Gateway(models={"m": provider}) as gw:
        record = await measure_call(gw, Job("m", "s", item()), CallOptions())
    assert record.ok and record.retries == 1 and record.output == "ok now"


async def test_a_model_that_always_fails_gives_typed_error_records() -> None:
    provider = MockProvider(name="down", script=[ServerError(500, "boom")], repeat=True)
    async with Gateway(models={"m": provider}) as gw:
        record = await measure_call(gw, Job("m", "s", item()), CallOptions())
    assert not record.ok and record.error_type == "UpstreamServerError" and "boom" in (record.error or "")
    assert record.deployment == "down" and record.retries == 2  # three rounds by default
    assert record.ttft_ms is None and record.tokens_per_s is None and record.output == ""
    assert record.cost == 0 and record.latency_ms > 0


async def test_a_stream_broken_after_its_first_tokens_keeps_what_arrived() -> None:
    provider = MockProvider(lambda r: SIX_WORDS, name="dep", script=[DropStream(after_chunks=2)])
    async with Gateway(models={"m": Deployment("dep", provider, pricing=PRICING)}) as gw:
        record = await measure_call(gw, Job("m", "s", item()), CallOptions())
    assert not record.ok and record.error_type == "StreamInterruptedError"
    assert record.output == "one two " and record.ttft_ms is not None and record.deployment == "dep"
    assert record.cost_estimated and record.cost > 0  # the upstream billed what it generated


def test_interleave_rotates_the_models_item_by_item(tmp_path: Path) -> None:
    jobs = interleave(["a", "b", "c"], [qa_suite(tmp_path, 2, "one"), qa_suite(tmp_path, 4, "two")])
    assert len(jobs) == 18
    assert [j.model for j in jobs[:9]] == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert [(j.suite, j.item.id) for j in jobs[6:9]] == [("two", "q0")] * 3
    firsts = [jobs[i].model for i in range(0, 18, 3)]
    assert sorted(firsts) == ["a", "a", "b", "b", "c", "c"]  # each model first equally often


@pytest.mark.parametrize("limit", [1, 3])
async def test_concurrency_bound_is_honoured_and_order_is_interleaved(tmp_path: Path, limit: int) -> None:
    counter = InFlight(seconds=0.01)
    providers = {name: MockProvider(counter.handler(name), name=name) for name in ("a", "b", "c")}
    jobs = interleave(list(providers), [qa_suite(tmp_path, 6)])
    async with Gateway(models=providers) as gw:
        records = await run_bounded(jobs, limit, lambda job: measure_call(gw, job, CallOptions()))
    assert counter.peak == limit and len(records) == 18 and all(r.ok for r in records)
    assert [(r.model, r.item_id) for r in records] == [(j.model, j.item.id) for j in jobs]
    if limit == 1:
        assert counter.order == [j.model for j in jobs]


async def test_run_bounded_returns_finished_results_in_job_order() -> None:
    done: list[int] = []

    async def work(n: int) -> int:
        await asyncio.sleep(0.001 * (5 - n))  # later jobs finish first
        return n * 10

    assert await run_bounded(range(5), 5, work, on_done=done.append) == [0, 10, 20, 30, 40]
    assert sorted(done) == [0, 10, 20, 30, 40] and done != sorted(done)
    assert await run_bounded([], 4, work) == []


async def test_stop_starts_no_more_jobs_and_cancels_those_running() -> None:
    stop = asyncio.Event()
    cancelled: list[int] = []

    async def work(n: int) -> int:
        if n == 3:
            stop.set()
        try:
            await asyncio.sleep(0 if n < 3 else 10)
        except asyncio.CancelledError:
            cancelled.append(n)
            raise
        return n

    started = time.perf_counter()
    assert await run_bounded(range(100), 2, work, stop=stop) == [0, 1, 2]
    assert time.perf_counter() - started < 2 and sorted(cancelled) == [3, 4]


async def test_a_bug_in_work_cancels_the_others_and_is_raised() -> None:
    cancelled: list[int] = []

    async def work(n: int) -> int:
        if n == 1:
            raise RuntimeError("bug")
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(n)
            raise
        return n

    with pytest.raises(RuntimeError, match="bug"):
        await run_bounded(range(10), 3, work)
    assert sorted(cancelled) == [0, 2]


async def test_cancelling_the_run_cancels_its_workers() -> None:
    running: list[int] = []

    async def work(n: int) -> int:
        running.append(n)
        try:
            await asyncio.sleep(10)
        finally:
            running.remove(n)
        return n

    task = asyncio.create_task(run_bounded(range(10), 4, work))
    await asyncio.sleep(0.01)
    assert len(running) == 4
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert running == []


class Warming(MockProvider):
    def __init__(self, *args: object, seconds: float = 0.0, fail: bool = False, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.seconds, self.fail, self.warmed = seconds, fail, 0

    async def warm(self) -> None:
        await asyncio.sleep(self.seconds)
        self.warmed += 1
        if self.fail:
            raise RuntimeError("no model file")


async def test_warm_up_readies_only_the_compared_models(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import io

    from llmgateway.compare import runner
    from llmgateway.compare.progress import Progress

    monkeypatch.setattr(runner, "WARM_NOTICE_AFTER", 0.01)
    slow, broken, unused = Warming(seconds=0.05), Warming(name="broken", fail=True), Warming()
    out = io.StringIO()
    async with Gateway(models={"a": slow, "b": broken, "c": unused}) as gw:
        await runner.warm_up(gw, ["a", "b"], Progress(out, live=False))
        record = await measure_call(gw, Job("b", "s", item()), CallOptions())
    assert (slow.warmed, broken.warmed, unused.warmed) == (1, 1, 0)
    assert out.getvalue() == "warming up the deployments (loading models)...\n"
    assert "failed to warm up (RuntimeError: no model file)" in caplog.text
    assert record.ok  # a failed warm-up is left to the calls
