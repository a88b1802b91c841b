"""Hugging Face TGI bodies on ``rawPredict`` / ``streamRawPredict``: ``{"inputs", "parameters",
"stream"}`` with the chat rendered by the deployment's chat template; answers ``[{"generated_text",
"details"}]``, or token events when streaming. ``details`` carries the generated token count (and,
on some servers, the prompt's); the rest is counted with the tokenizer if one is configured."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic_core import from_json, to_json

from llmgateway.errors import StreamInterruptedError
from llmgateway.types import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, Usage
from providers.gcp.errors import PredictionFormatError
from providers.gcp.wire import ChunkMaker, TokenCounter, build_completion, usage_of

if TYPE_CHECKING:
    from providers.chat_render import ChatRenderer


def _finish(details: Any) -> str:
    reason = details.get("finish_reason") if isinstance(details, dict) else None
    return "length" if reason == "length" else "stop"


class TgiFormat:
    def __init__(self, renderer: ChatRenderer, model: str, count: TokenCounter | None = None) -> None:
        self.renderer = renderer
        self.model = model
        self._count = count

    def prompt(self, request: ChatCompletionRequest) -> str:
        return self.renderer.render(request.messages)

    def body(self, request: ChatCompletionRequest, *, stream: bool) -> bytes:
        parameters: dict[str, Any] = {"details": True, "return_full_text": False}
        if request.output_token_limit() is not None:
            parameters["max_new_tokens"] = request.output_token_limit()
        # TGI refuses temperature 0 and top_p 1: greedy is "no sampling", top_p 1 is "no top_p".
        if request.temperature:
            parameters["do_sample"] = True
            parameters["temperature"] = request.temperature
        if request.top_p is not None and 0 < request.top_p < 1:
            parameters["top_p"] = request.top_p
        if request.stop is not None:
            parameters["stop"] = request.stop_list()
        if request.seed is not None:
            parameters["seed"] = request.seed
        return to_json({"inputs": self.prompt(request), "parameters": parameters, "stream": stream})

    def usage(self, details: Any, request: ChatCompletionRequest, text: str) -> Usage | None:
        details = details if isinstance(details, dict) else {}
        generated = details.get("generated_tokens")
        prompt = details.get("prompt_tokens")
        if prompt is None and isinstance(details.get("prefill"), list) and details["prefill"]:
            prompt = len(details["prefill"])
        if self._count is not None:
            prompt = prompt if isinstance(prompt, int) else self._count(self.prompt(request))
            generated = generated if isinstance(generated, int) else self._count(text)
        if isinstance(prompt, int) and isinstance(generated, int):
            return usage_of(prompt, generated)
        return None  # the gateway estimates it, and marks the cost as estimated

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
        return build_completion([text], self.model, [_finish(details)], self.usage(details, request, text))

    def stream_parser(self, request: ChatCompletionRequest) -> TgiStreamParser:
        return TgiStreamParser(self, request)


class TgiStreamParser:
    """TGI's token events: ``{"token": {"text", "special"}, "generated_text": null, "details":
    null}``, the last one with ``generated_text`` and ``details`` set."""

    def __init__(self, wire: TgiFormat, request: ChatCompletionRequest) -> None:
        self.finished = False
        self._wire = wire
        self._request = request
        self._chunks = ChunkMaker(wire.model)
        self._text: list[str] = []

    def feed(self, data: str) -> list[ChatCompletionChunk]:
        try:
            event: Any = from_json(data)
        except ValueError as exc:
            raise PredictionFormatError(f"the endpoint sent a TGI event that is not JSON: {exc}") from exc
        if not isinstance(event, dict):
            raise PredictionFormatError(f"expected a TGI token event, got {data[:200]}")
        if "error" in event:
            raise StreamInterruptedError(
                f"the endpoint sent an error event after {len(self._text)} tokens: {event['error']}",
                chunks_received=len(self._text),
            )
        token = event.get("token")
        token = token if isinstance(token, dict) else {}
        piece = "" if token.get("special") else str(token.get("text") or "")
        final = event.get("generated_text") is not None or event.get("details") is not None
        first = not self._text
        self._text.append(piece)
        if not final:
            return [self._chunks.text(piece, first=first)] if piece or first else []
        self.finished = True
        chunks = [self._chunks.text(piece, first=first, finish=_finish(event.get("details")))]
        usage = self._wire.usage(event.get("details"), self._request, "".join(self._text))
        if usage is not None:
            chunks.append(self._chunks.usage(usage))
        return chunks
