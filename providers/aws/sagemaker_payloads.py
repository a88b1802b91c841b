"""What a SageMaker endpoint's container speaks: one payload format per deployment.

A format builds the request body from a chat request, reads the container's answer into a
ChatCompletion, and reads a response stream's payload bytes into chunks. Usage is the
container's when it reports it, else counted with the deployment's tokenizer when one is
configured, else None (the gateway then estimates it and marks the cost as estimated).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from llmgateway.errors import GatewayError, UpstreamServerError
from llmgateway.types import ChatCompletionChunk, ChatCompletionRequest, ChatMessage, Usage
from providers.chunks import AnswerBuilder, usage_of

if TYPE_CHECKING:
    from llmgateway.types import ChatCompletion
    from providers.aws.sagemaker_settings import SageMakerSettings
    from providers.chat_render import ChatRenderer
    from providers.token_count import TokenCounter, Tokenizer


@dataclass(frozen=True)
class Prepared:
    """A request body and what was rendered into it (the prompt text, for counting)."""

    body: bytes
    prompt: str | None = None


class CallInfo(AnswerBuilder):
    """Per call: the answer builder (ids and creation time every chunk carries), and where errors
    are reported."""

    def __init__(self, deployment: str, model: str) -> None:
        super().__init__(model, "chatcmpl-sm")
        self.deployment = deployment

    def invalid(self, what: str, detail: object) -> GatewayError:
        return UpstreamServerError(
            f"the SageMaker endpoint sent a {what} this deployment's format cannot read: {detail}",
            deployment=self.deployment,
        )


class StreamReader(Protocol):
    """Turns one response stream's payload bytes into chat chunks."""

    @property
    def finished(self) -> bool:
        """The container said the answer is complete."""
        ...

    def feed(self, payload: bytes, sent: int) -> list[ChatCompletionChunk]: ...

    def close(self, sent: int) -> list[ChatCompletionChunk]: ...


class PayloadFormat(Protocol):
    streams_usage: bool

    def prepare(self, request: ChatCompletionRequest, stream: bool) -> Prepared: ...

    def answer(
        self, raw: bytes, request: ChatCompletionRequest, prepared: Prepared, call: CallInfo
    ) -> ChatCompletion: ...

    def reader(self, request: ChatCompletionRequest, prepared: Prepared, call: CallInfo) -> StreamReader: ...


class UsageCounter:
    """Counts tokens with the deployment's tokenizer, when it has one."""

    def __init__(self, tokenizer: Tokenizer | None) -> None:
        self.tokenizer = tokenizer
        self.count_text: TokenCounter | None = tokenizer.count_text if tokenizer is not None else None

    def count(self, prompt: str | Sequence[ChatMessage], completion: str) -> Usage | None:
        """Usage of a prompt (rendered text, or a chat to render) and its completion text."""
        if self.tokenizer is None:
            return None
        from providers.chat_render import plain_messages

        if isinstance(prompt, str):
            prompt_tokens = self.tokenizer.count_text(prompt)
        else:
            prompt_tokens = self.tokenizer.count_chat(plain_messages(prompt))
        return usage_of(prompt_tokens, self.tokenizer.count_text(completion))


def build_format(
    settings: SageMakerSettings, renderer: ChatRenderer | None, tokenizer: Tokenizer | None
) -> PayloadFormat:
    counter = UsageCounter(tokenizer)
    if settings.format == "tgi":
        from providers.aws.sagemaker_tgi import TgiFormat

        assert renderer is not None  # the settings require a template for tgi
        return TgiFormat(renderer, counter, settings.parameters)
    if settings.format == "messages":
        from providers.aws.sagemaker_messages import MessagesFormat

        return MessagesFormat(counter, settings.model, settings.stream_usage)
    from providers.aws.sagemaker_raw import RawFormat

    return RawFormat()
