"""What every body format of a Vertex deployment provides, and the OpenAI-shaped answers built
from formats that are not OpenAI's (predictions, TGI)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Protocol

from llmgateway.types import (
    ChatChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChunkChoice,
    ChunkDelta,
    ResponseMessage,
    Usage,
)

# Counts a text's tokens with the deployment's tokenizer (configured), for backends that report none.
TokenCounter = Callable[[str], int]


class StreamParser(Protocol):
    """Turns one streamed event's data into chunks; ``finished`` once the answer is complete."""

    finished: bool

    def feed(self, data: str) -> list[ChatCompletionChunk]: ...


class WireFormat(Protocol):
    """A request body format and its answers."""

    def body(self, request: ChatCompletionRequest, *, stream: bool) -> bytes: ...

    def parse(self, body: bytes, request: ChatCompletionRequest) -> ChatCompletion: ...

    def stream_parser(self, request: ChatCompletionRequest) -> StreamParser: ...


def completion_id() -> str:
    return f"chatcmpl-vertex-{uuid.uuid4().hex[:24]}"


def usage_of(prompt: int, completion: int) -> Usage:
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


def build_completion(
    texts: list[str], model: str, finish_reasons: list[str], usage: Usage | None
) -> ChatCompletion:
    choices = [
        ChatChoice(index=i, message=ResponseMessage(content=text), finish_reason=finish)
        for i, (text, finish) in enumerate(zip(texts, finish_reasons, strict=True))
    ]
    return ChatCompletion(
        id=completion_id(), created=int(time.time()), model=model, choices=choices, usage=usage
    )


class ChunkMaker:
    """Chunks of one streamed answer: one id and creation time for all of them."""

    def __init__(self, model: str) -> None:
        self.id = completion_id()
        self.created = int(time.time())
        self.model = model

    def text(self, content: str, *, first: bool, finish: str | None = None) -> ChatCompletionChunk:
        delta = ChunkDelta(role="assistant" if first else None, content=content)
        return ChatCompletionChunk(
            id=self.id,
            created=self.created,
            model=self.model,
            choices=[ChunkChoice(index=0, delta=delta, finish_reason=finish)],
        )

    def usage(self, usage: Usage) -> ChatCompletionChunk:
        return ChatCompletionChunk(id=self.id, created=self.created, model=self.model, usage=usage)
