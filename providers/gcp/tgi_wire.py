"""Hugging Face TGI bodies on ``rawPredict`` / ``streamRawPredict`` (``providers.tgi``, the same
parameters SageMaker's tgi format sends), with the chat rendered by the deployment's chat template;
answers ``[{"generated_text", "details"}]``, or token events when streaming. ``details`` carries the
generated token count (and, on some servers, the prompt's); the rest is counted with the tokenizer
if one is configured."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic_core import from_json

from llmgateway.types import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest
from providers.gcp.errors import PredictionFormatError
from providers.gcp.wire import TokenCounter, answer_builder
from providers.tgi import TgiTokenStream, finish_reason, tgi_body, tgi_usage

if TYPE_CHECKING:
    from providers.chat_render import ChatRenderer


class TgiFormat:
    def __init__(
        self,
        renderer: ChatRenderer,
        model: str,
        count: TokenCounter | None = None,
        defaults: dict[str, Any] | None = None,
    ) -> None:
        self.renderer = renderer
        self.model = model
        self._count = count
        # The deployment's own TGI parameters; the request's fields and rules go over them.
        self._defaults = dict(defaults or {})

    def prompt(self, request: ChatCompletionRequest) -> str:
        return self.renderer.render(request.messages)

    def body(self, request: ChatCompletionRequest, *, stream: bool) -> bytes:
        return tgi_body(self.prompt(request), request, self._defaults, stream=stream)

    def parse(self, body: bytes, request: ChatCompletionRequest) -> ChatCompletion:
        try:
            answer = from_json(body)
        except ValueError as exc:
            raise PredictionFormatError(f"the endpoint's TGI answer is not JSON: {exc}") from exc
        if isinstance(answer, list) and len(answer) == 1:
            answer = answer[0]
        if not isinstance(answer, dict) or not isinstance(answer.get("generated_text"), str):
            raise PredictionFormatError(f"expected TGI's [{{generated_text: ...}}], got {str(answer)[:200]}")
        text = answer["generated_text"]
        details = answer.get("details")
        # The prompt is rendered again only when a tokenizer has to count it.
        prompt = self.prompt(request) if self._count is not None else ""
        usage = tgi_usage(details, prompt, text, self._count)
        return answer_builder(self.model).completion([text], [finish_reason(details)], usage)

    def stream_parser(self, request: ChatCompletionRequest) -> TgiStreamParser:
        prompt = self.prompt(request) if self._count is not None else ""
        return TgiStreamParser(TgiTokenStream(answer_builder(self.model), prompt, self._count, None))


class TgiStreamParser:
    """TGI's token events: ``{"token": {"text", "special"}, "generated_text": null, "details":
    null}``, the last one with ``generated_text`` and ``details`` set."""

    def __init__(self, tokens: TgiTokenStream) -> None:
        self._tokens = tokens

    @property
    def finished(self) -> bool:
        return self._tokens.finished

    def feed(self, data: str) -> list[ChatCompletionChunk]:
        try:
            event: Any = from_json(data)
        except ValueError as exc:
            raise PredictionFormatError(f"the endpoint sent a TGI event that is not JSON: {exc}") from exc
        if not isinstance(event, dict):
            raise PredictionFormatError(f"expected a TGI token event, got {data[:200]}")
        return self._tokens.take(event)
