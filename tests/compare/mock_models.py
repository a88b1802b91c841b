"""Mock deployments and small suites for the runner's tests."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from llmgateway.compare.records import SuiteItem
from llmgateway.compare.suites import Suite, load_suite
from llmgateway.types import ChatCompletionRequest, Completion, CompletionChoice, CompletionRequest
from providers.mock import MockProvider

# Six words: the mock streams one word per chunk and counts one token per word.
SIX_WORDS = "one two three four five six"


def qa_suite(tmp_path: Path, count: int = 4, name: str = "facts") -> Suite:
    """``count`` closed-book QA items whose accepted answer is "answer <i>"."""
    path = tmp_path / f"{name}.jsonl"
    lines = [
        {"id": f"q{i}", "task": "qa", "question": f"Question {i}?", "answers": [f"answer {i}"]}
        for i in range(count)
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return load_suite(path)


def item(item_id: str = "i1", text: str = "Say six words") -> SuiteItem:
    return SuiteItem(item_id, "qa", [{"role": "user", "content": text}], answers=("x",), max_tokens=16)


def answer_qa(request: ChatCompletionRequest) -> str:
    """The right answer to a ``qa_suite`` question."""
    number = request.messages[-1].text().rsplit("Question ", 1)[1].rstrip("?")
    return f"answer {number}"


class InFlight:
    """An async handler that counts the calls inside it at once, and the order they came in."""

    def __init__(self, seconds: float = 0.02) -> None:
        self.seconds = seconds
        self.now = 0
        self.peak = 0
        self.order: list[str] = []

    def handler(self, name: str) -> Any:
        async def answer(request: ChatCompletionRequest) -> str:
            self.order.append(name)
            self.now += 1
            self.peak = max(self.peak, self.now)
            try:
                await asyncio.sleep(self.seconds)
            finally:
                self.now -= 1
            return answer_qa(request)

        return answer


class ScoringMock(MockProvider):
    """A mock whose echoed completions carry prompt log-probabilities: every token (word) has
    log p = ``logprob``, so the corpus perplexity is exp(-logprob)."""

    def __init__(self, *args: Any, logprob: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.logprob = logprob
        self.scored: list[str] = []

    async def completions(self, request: CompletionRequest, *, timeout: float | None = None) -> Completion:
        prompt = request.prompt if isinstance(request.prompt, str) else " ".join(request.prompt)
        self.scored.append(prompt)
        words = prompt.split(" ")
        offsets = [sum(len(w) + 1 for w in words[:i]) for i in range(len(words))]
        logprobs = {"tokens": words, "token_logprobs": [self.logprob] * len(words), "text_offset": offsets}
        return Completion(
            id="c", created=int(time.time()), model=request.model,
            choices=[CompletionChoice(text=prompt, logprobs=logprobs)],
        )  # fmt: skip
