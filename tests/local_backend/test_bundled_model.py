"""The real bundled models: SmolLM2-135M-Instruct (chat, logprobs) and all-MiniLM-L6-v2."""

from __future__ import annotations

import asyncio
import math

import pytest

from local_backend.engine import LocalEngine
from local_backend.protocol import GenerationRequest, TokenDelta
from local_backend.scheduler import BatchScheduler
from local_backend.scoring import EmbeddingModel, token_logprobs

pytestmark = pytest.mark.model

QUESTIONS = ["What is the capital of France?", "Name three primary colors.", "What is 2 plus 2?"]


def chat(engine: LocalEngine, question: str, max_tokens: int = 24) -> GenerationRequest:
    return GenerationRequest(
        prompt_ids=engine.render_chat([{"role": "user", "content": question}]),
        max_tokens=max_tokens,
        temperature=0,
    )


@pytest.mark.asyncio
async def test_greedy_answers_are_deterministic_batched_or_not_and_stream_equals_final(
    bundled_engine: LocalEngine,
) -> None:
    async with BatchScheduler(bundled_engine, max_batch=8) as scheduler:
        alone = [await scheduler.generate(chat(bundled_engine, q)) for q in QUESTIONS]
        together = await asyncio.gather(*(scheduler.generate(chat(bundled_engine, q)) for q in QUESTIONS))
        streamed = ""
        async for event in scheduler.submit(chat(bundled_engine, QUESTIONS[0])):
            if isinstance(event, TokenDelta):
                streamed += event.text
    assert [d.token_ids for d in together] == [d.token_ids for d in alone]
    assert [d.text for d in together] == [d.text for d in alone]
    assert streamed == alone[0].text
    assert "Paris" in alone[0].text
    assert all(d.compute_seconds > 0 for d in together)


def test_token_logprobs(bundled_engine: LocalEngine) -> None:
    text = "The capital of France is Paris."
    scored = token_logprobs(bundled_engine, text)
    n = len(bundled_engine.encode(text))
    assert len(scored.token_ids) == len(scored.tokens) == len(scored.logprobs) == len(scored.offsets) == n
    assert scored.offsets[0] == 0 and text[scored.offsets[-1] :] == "."
    assert all(lp <= 0 for lp in scored.logprobs)
    shuffled = token_logprobs(bundled_engine, "Paris capital is the France of.")
    assert math.isfinite(scored.perplexity) and scored.perplexity < shuffled.perplexity


def test_embeddings(embedder: EmbeddingModel) -> None:
    result = embedder.embed(
        ["A cat sits on the mat.", "A kitten is sitting on a rug.", "Stock markets fell today."]
    )
    assert embedder.dimension == 384
    assert all(len(v) == 384 for v in result.vectors)
    assert all(abs(math.sqrt(sum(x * x for x in v)) - 1) < 1e-4 for v in result.vectors)
    cat, kitten, stocks = result.vectors

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cosine(cat, kitten) > 0.5 > cosine(cat, stocks)
    assert result.tokens > 0 and result.model == "all-MiniLM-L6-v2"
