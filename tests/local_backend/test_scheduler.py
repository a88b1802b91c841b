"""Continuous batching on the tiny random model: join/leave, cancellation, queue limits,
stop sequences, max_tokens, seeds, batch-vs-alone equality, compute metering."""

from __future__ import annotations

import asyncio

import pytest

from local_backend.engine import LocalEngine
from local_backend.protocol import (
    GenerationDone,
    GenerationRequest,
    PromptTooLongError,
    QueueFullError,
    SchedulerClosedError,
    TokenDelta,
)
from local_backend.scheduler import BatchScheduler

PROMPTS = [
    "Hello there my friend",
    "The quick brown fox jumps over",
    "a",
    "Once upon a time in a land far away",
]


def greedy(engine: LocalEngine, text: str, max_tokens: int = 12, **kw: object) -> GenerationRequest:
    return GenerationRequest(prompt_ids=engine.encode(text), max_tokens=max_tokens, temperature=0, **kw)  # type: ignore[arg-type]


async def collect(
    scheduler: BatchScheduler, request: GenerationRequest
) -> tuple[list[TokenDelta], GenerationDone]:
    deltas: list[TokenDelta] = []
    async for event in scheduler.submit(request):
        if isinstance(event, TokenDelta):
            deltas.append(event)
        else:
            return deltas, event
    raise AssertionError("stream ended without GenerationDone")


async def wait_until(predicate: object, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


@pytest.mark.asyncio
async def test_batched_greedy_output_equals_decoding_alone(tiny_engine: LocalEngine) -> None:
    async with BatchScheduler(tiny_engine, max_batch=8) as scheduler:
        alone = [(await scheduler.generate(greedy(tiny_engine, p, 16))).token_ids for p in PROMPTS]
        together = await asyncio.gather(*(scheduler.generate(greedy(tiny_engine, p, 16)) for p in PROMPTS))
    assert [d.token_ids for d in together] == alone


@pytest.mark.asyncio
async def test_requests_join_a_running_batch_and_leave_when_done(tiny_engine: LocalEngine) -> None:
    async with BatchScheduler(tiny_engine, max_batch=4) as scheduler:
        reference = (await scheduler.generate(greedy(tiny_engine, PROMPTS[0], 60))).token_ids
        long_stream = scheduler.submit(greedy(tiny_engine, PROMPTS[0], 60))
        seen = [await long_stream.__anext__() for _ in range(3)]  # the long request is decoding
        assert all(isinstance(e, TokenDelta) for e in seen)
        short = await scheduler.generate(greedy(tiny_engine, PROMPTS[1], 4))  # joins, finishes, leaves
        assert short.usage.completion_tokens == 4
        assert scheduler.stats.active == 1  # the long one is still running on its own
        done = await long_stream.collect()
    assert done.token_ids == reference  # joining and leaving did not disturb the long request


@pytest.mark.asyncio
async def test_cancelled_stream_frees_its_slot(tiny_engine: LocalEngine) -> None:
    async with BatchScheduler(tiny_engine, max_batch=1) as scheduler:
        stream = scheduler.submit(greedy(tiny_engine, PROMPTS[0], 500))
        await stream.__anext__()
        stream.cancel()
        # With one slot, this only completes if the cancelled request left the batch.
        done = await asyncio.wait_for(scheduler.generate(greedy(tiny_engine, PROMPTS[1], 3)), timeout=20)
        assert done.usage.completion_tokens == 3
        assert scheduler.stats.cancelled == 1 and scheduler.stats.active == 0


@pytest.mark.asyncio
async def test_cancelled_consumer_task_frees_its_slot(tiny_engine: LocalEngine) -> None:
    async with BatchScheduler(tiny_engine, max_batch=1) as scheduler:
        started = asyncio.Event()

        async def consume() -> None:
            async for _ in scheduler.submit(greedy(tiny_engine, PROMPTS[0], 500)):
                started.set()

        task = asyncio.create_task(consume())
        await started.wait()
        task.cancel()  # like a client disconnecting mid-stream
        with pytest.raises(asyncio.CancelledError):
            await task
        done = await asyncio.wait_for(scheduler.generate(greedy(tiny_engine, PROMPTS[1], 2)), timeout=20)
        assert done.finish_reason == "length"
        await wait_until(lambda: scheduler.stats.active == 0)


@pytest.mark.asyncio
async def test_full_queue_raises_with_retry_after(tiny_engine: LocalEngine) -> None:
    async with BatchScheduler(tiny_engine, max_batch=1, max_queue=1) as scheduler:
        running = scheduler.submit(greedy(tiny_engine, PROMPTS[0], 500))
        await running.__anext__()  # admitted: the batch is full
        waiting = scheduler.submit(greedy(tiny_engine, PROMPTS[1], 2))  # fills the queue
        with pytest.raises(QueueFullError) as caught:
            scheduler.submit(greedy(tiny_engine, PROMPTS[2], 2))
        assert caught.value.retry_after > 0
        running.cancel()
        assert (await waiting.collect()).usage.completion_tokens == 2


@pytest.mark.asyncio
async def test_stop_sequence_cuts_the_text(tiny_engine: LocalEngine) -> None:
    async with BatchScheduler(tiny_engine) as scheduler:
        full = await scheduler.generate(greedy(tiny_engine, PROMPTS[3], 30))
        text = full.text
        stop = text[12:16]
        assert stop.strip(), "the tiny model's output should have text to cut"
        deltas, done = await collect(scheduler, greedy(tiny_engine, PROMPTS[3], 30, stop=(stop,)))
    assert done.finish_reason == "stop"
    assert done.text == text[: text.find(stop)]
    assert "".join(d.text for d in deltas) == done.text
    assert done.usage.completion_tokens < full.usage.completion_tokens


@pytest.mark.asyncio
async def test_max_tokens_and_usage(tiny_engine: LocalEngine) -> None:
    request = greedy(tiny_engine, PROMPTS[1], 7)
    async with BatchScheduler(tiny_engine) as scheduler:
        deltas, done = await collect(scheduler, request)
    assert done.finish_reason == "length"
    assert done.usage.completion_tokens == 7 == len(done.token_ids)
    assert done.usage.prompt_tokens == len(request.prompt_ids)
    assert done.usage.total_tokens == done.usage.prompt_tokens + 7
    assert [d.token_id for d in deltas if d.token_id is not None] == list(done.token_ids)
    assert "".join(d.text for d in deltas) == done.text


@pytest.mark.asyncio
async def test_seed_makes_sampling_reproducible_even_in_a_batch(tiny_engine: LocalEngine) -> None:
    def sampled(seed: int) -> GenerationRequest:
        return GenerationRequest(
            prompt_ids=tiny_engine.encode(PROMPTS[0]), max_tokens=16, temperature=1.0, top_p=0.9, seed=seed
        )

    async with BatchScheduler(tiny_engine) as scheduler:
        first = await scheduler.generate(sampled(123))
        second, _, _ = await asyncio.gather(
            scheduler.generate(sampled(123)),
            scheduler.generate(greedy(tiny_engine, PROMPTS[1], 16)),
            scheduler.generate(sampled(7)),
        )
        other = await scheduler.generate(sampled(124))
    assert first.token_ids == second.token_ids
    assert other.token_ids != first.token_ids


@pytest.mark.asyncio
async def test_compute_seconds_are_metered(tiny_engine: LocalEngine) -> None:
    async with BatchScheduler(tiny_engine) as scheduler:
        results = await asyncio.gather(*(scheduler.generate(greedy(tiny_engine, p, 8)) for p in PROMPTS))
    assert all(r.compute_seconds > 0 for r in results)


@pytest.mark.asyncio
async def test_errors_at_submit(tiny_engine: LocalEngine) -> None:
    scheduler = BatchScheduler(tiny_engine)
    with pytest.raises(SchedulerClosedError):
        scheduler.submit(greedy(tiny_engine, PROMPTS[0]))
    async with scheduler:
        too_long = GenerationRequest(prompt_ids=[5] * tiny_engine.max_context, max_tokens=1)
        with pytest.raises(PromptTooLongError):
            scheduler.submit(too_long)
    with pytest.raises(ValueError):
        GenerationRequest(prompt_ids=[], max_tokens=1)


@pytest.mark.asyncio
async def test_stop_closes_open_streams(tiny_engine: LocalEngine) -> None:
    scheduler = BatchScheduler(tiny_engine, max_batch=1)
    await scheduler.start()
    stream = scheduler.submit(greedy(tiny_engine, PROMPTS[0], 500))
    await stream.__anext__()
    await scheduler.stop()
    with pytest.raises(SchedulerClosedError):
        async for _ in stream:
            pass


def test_render_chat_uses_the_template(tiny_engine: LocalEngine) -> None:
    ids = tiny_engine.render_chat([{"role": "user", "content": "Hi"}])
    text = str(tiny_engine.tokenizer.decode(ids))
    assert "<|im_start|>user\nHi<|im_end|>" in text and text.endswith("<|im_start|>assistant\n")
