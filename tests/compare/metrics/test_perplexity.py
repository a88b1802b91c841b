"""reference_perplexity: corpus perplexity from echoed prompt log-probabilities, or None."""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Any

import pytest

from llmgateway.client import Gateway
from llmgateway.compare.metrics import reference_perplexity
from llmgateway.provider import Capabilities, ProviderBase
from llmgateway.types import Completion, CompletionChoice, CompletionRequest
from providers.mock import MockProvider


class Scripted(ProviderBase):
    """Answers each completion with the next prepared logprobs block, and keeps the requests."""

    kind = "scripted"
    capabilities = Capabilities(chat=False, streaming=False, completions=True)

    def __init__(self, *answers: tuple[str, dict[str, Any] | None]) -> None:
        super().__init__("scripted")
        self.answers = deque(answers)
        self.requests: list[CompletionRequest] = []

    async def completions(self, request: CompletionRequest, *, timeout: float | None = None) -> Completion:
        self.requests.append(request)
        text, logprobs = self.answers.popleft()
        choice = CompletionChoice(text=text, finish_reason="length", logprobs=logprobs)
        return Completion(id="c", created=int(time.time()), model="m", choices=[choice])


def block(tokens: list[str], values: list[float | None], offsets: list[int] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"tokens": tokens, "token_logprobs": values, "top_logprobs": None}
    if offsets is not None:
        data["text_offset"] = offsets
    return data


async def perplexity(provider: ProviderBase, texts: list[str]) -> float | None:
    async with Gateway(models={"m": provider}) as gateway:
        return await reference_perplexity(gateway, "m", texts)


async def test_corpus_perplexity_pools_every_scored_token() -> None:
    # "ab": first token unscored (None), then -1.0; "cd": -0.5 and -2.0, then one generated
    # token at offset 2 (past the prompt) that must not count. Scored: -1.0, -0.5, -2.0.
    provider = Scripted(
        ("ab", block(["a", "b"], [None, -1.0], [0, 1])),
        ("cdX", block(["c", "d", "X"], [-0.5, -2.0, -9.0], [0, 1, 2])),
    )
    assert await perplexity(provider, ["ab", "cd"]) == pytest.approx(math.exp(3.5 / 3))
    sent = provider.requests[0]
    assert (sent.prompt, sent.echo, sent.logprobs, sent.max_tokens, sent.temperature) == ("ab", True, 0, 1, 0)


async def test_without_offsets_only_an_answer_that_echoes_the_prompt_alone_is_usable() -> None:
    assert await perplexity(Scripted(("ab", block(["a", "b"], [-1.0, -3.0]))), ["ab"]) == pytest.approx(
        math.exp(2.0)
    )
    generated = Scripted(("abX", block(["a", "b", "X"], [-1.0, -3.0, -0.1])))
    assert await perplexity(generated, ["ab"]) is None


@pytest.mark.parametrize(
    "logprobs",
    [
        None,
        {},
        block(["a", "b"], [-1.0]),  # fewer logprobs than tokens
        block(["a", "b"], [-1.0, "x"], [0, 1]),  # type: ignore[list-item]
        block(["a", "b"], [-1.0, True], [0, 1]),  # type: ignore[list-item]
        block(["a", "b"], [-1.0, 0.5], [0, 1]),  # a probability above 1
        block(["a", "b"], [None, None], [0, 1]),  # nothing scored
    ],
)
async def test_missing_or_malformed_logprobs_give_none(logprobs: dict[str, Any] | None) -> None:
    assert await perplexity(Scripted(("ab", logprobs)), ["ab"]) is None


async def test_models_that_cannot_score_give_none() -> None:
    # The mock answers completions without logprobs; the second one cannot complete at all.
    assert await perplexity(MockProvider(), ["some reference text"]) is None
    chat_only = MockProvider(capabilities=Capabilities(chat=True, completions=False))
    assert await perplexity(chat_only, ["some reference text"]) is None


async def test_nothing_to_score_gives_none() -> None:
    provider = Scripted()
    assert await perplexity(provider, []) is None
    assert await perplexity(provider, ["", "  \n"]) is None
    assert provider.requests == []  # blank texts are not sent


async def test_tiny_model_perplexity_equals_exp_mean_nll_from_transformers() -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from providers.local import LocalProvider

    texts = ["The quick brown fox jumps over the lazy dog.", "Perplexity measures surprise, token by token."]
    deployment = {"provider": "local", "settings": {"model": "tiny", "device": "cpu"}}
    config = {"models": {"tiny": {"deployments": [deployment]}}}
    async with Gateway(config) as gateway:
        measured = await reference_perplexity(gateway, "tiny", texts)
        provider = gateway.deployments()[0].provider
        assert isinstance(provider, LocalProvider)
        engine = (await provider.service()).engine
    # Directly: the same model and tokenizer, a forward pass with labels per text. Without
    # context, the first token is conditioned on the BOS token when the tokenizer has one.
    model, tokenizer = engine.model, engine.tokenizer
    total_nll, total_tokens = 0.0, 0
    for text in texts:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        if tokenizer.bos_token_id is not None:
            ids = [tokenizer.bos_token_id, *ids]
        labels = torch.tensor([ids])
        with torch.no_grad():
            loss = model(input_ids=labels, labels=labels).loss  # mean NLL over len(ids) - 1 tokens
        total_nll += float(loss) * (len(ids) - 1)
        total_tokens += len(ids) - 1
    assert measured is not None
    assert measured == pytest.approx(math.exp(total_nll / total_tokens), rel=1e-4)
    assert 1.0 < measured < 1e6  # a random model is very perplexed, but finitely
