"""OpenAI-shaped answers built from text, for backends whose wire format is not OpenAI's (TGI,
SageMaker raw payloads, Vertex predictions): one builder per call, so a ChatCompletion or every
chunk of one stream carries the same id, creation time and model."""

from __future__ import annotations

import time
import uuid

from llmgateway.types import (
    ChatChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChunkChoice,
    ChunkDelta,
    ResponseMessage,
    Usage,
)


def usage_of(prompt: int, completion: int) -> Usage:
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


class AnswerBuilder:
    """The answer to one call; ``id_prefix`` says which provider made it (``chatcmpl-sm``...)."""

    def __init__(self, model: str, id_prefix: str = "chatcmpl") -> None:
        self.model = model
        self.id = f"{id_prefix}-{uuid.uuid4().hex}"
        self.created = int(time.time())

    def chunk(
        self, content: str | None = None, *, role: str | None = None, finish: str | None = None
    ) -> ChatCompletionChunk:
        delta = ChunkDelta(role=role, content=content)
        return ChatCompletionChunk(
            id=self.id,
            created=self.created,
            model=self.model,
            choices=[ChunkChoice(index=0, delta=delta, finish_reason=finish)],
        )

    def usage_chunk(self, usage: Usage) -> ChatCompletionChunk:
        """The stream's last chunk: usage and no choices, as OpenAI's ``include_usage`` sends it."""
        return ChatCompletionChunk(id=self.id, created=self.created, model=self.model, usage=usage)

    def completion(self, texts: list[str], finish_reasons: list[str], usage: Usage | None) -> ChatCompletion:
        """A whole answer: one choice per text, in order."""
        choices = [
            ChatChoice(index=i, message=ResponseMessage(content=text), finish_reason=finish)
            for i, (text, finish) in enumerate(zip(texts, finish_reasons, strict=True))
        ]
        return ChatCompletion(
            id=self.id, created=self.created, model=self.model, choices=choices, usage=usage
        )
