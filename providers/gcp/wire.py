"""What every body format of a Vertex deployment provides. Answers in formats that are not
OpenAI's (predictions, TGI) are built with ``providers.chunks.AnswerBuilder``."""

from __future__ import annotations

from typing import Protocol

from llmgateway.types import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest
from providers.chunks import AnswerBuilder
from providers.token_count import TokenCounter

__all__ = ["ID_PREFIX", "StreamParser", "TokenCounter", "WireFormat", "answer_builder"]

ID_PREFIX = "chatcmpl-vertex"


def answer_builder(model: str) -> AnswerBuilder:
    return AnswerBuilder(model, ID_PREFIX)


class StreamParser(Protocol):
    """Turns one streamed event's data into chunks; ``finished`` once the answer is complete."""

    @property
    def finished(self) -> bool: ...

    def feed(self, data: str) -> list[ChatCompletionChunk]: ...


class WireFormat(Protocol):
    """A request body format and its answers."""

    def body(self, request: ChatCompletionRequest, *, stream: bool) -> bytes: ...

    def parse(self, body: bytes, request: ChatCompletionRequest) -> ChatCompletion: ...

    def stream_parser(self, request: ChatCompletionRequest) -> StreamParser: ...
