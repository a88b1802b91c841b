"""OpenAI chat bodies: the chat completions route of deployed endpoints (and ``openapi``), and
containers that take OpenAI chat on ``rawPredict`` (vLLM, newer TGI)."""

from __future__ import annotations

from typing import Any

from pydantic_core import from_json, to_json

from llmgateway.errors import StreamInterruptedError
from llmgateway.types import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest
from providers.gcp.errors import PredictionFormatError, parse_status


class OpenAIFormat:
    def __init__(self, model: str | None, stream_usage: bool) -> None:
        self.model = model
        self.stream_usage = stream_usage

    def body(self, request: ChatCompletionRequest, *, stream: bool) -> bytes:
        payload = request.model_dump(exclude_none=True)
        if self.model:
            payload["model"] = self.model
        payload["stream"] = stream
        if stream and self.stream_usage:
            # The gateway prices the call from it; it hides the chunk from callers who did not ask.
            payload["stream_options"] = {**payload.get("stream_options", {}), "include_usage": True}
        else:
            payload.pop("stream_options", None)
        return to_json(payload)

    def parse(self, body: bytes, request: ChatCompletionRequest) -> ChatCompletion:
        try:
            return ChatCompletion.model_validate_json(body)
        except ValueError as exc:
            raise PredictionFormatError(f"the answer is not an OpenAI chat completion: {exc}") from exc

    def stream_parser(self, request: ChatCompletionRequest) -> OpenAIStreamParser:
        return OpenAIStreamParser()


class OpenAIStreamParser:
    def __init__(self) -> None:
        self.finished = False
        self._sent = 0

    def feed(self, data: str) -> list[ChatCompletionChunk]:
        if data == "[DONE]":
            self.finished = True
            return []
        try:
            payload: Any = from_json(data)
        except ValueError as exc:
            raise PredictionFormatError(f"the endpoint sent a stream event that is not JSON: {exc}") from exc
        if isinstance(payload, list) or (isinstance(payload, dict) and "error" in payload):
            status = parse_status(payload)
            error = payload.get("error") if isinstance(payload, dict) else None
            message = status.message if status else (error if isinstance(error, str) else str(payload)[:200])
            raise StreamInterruptedError(
                f"the endpoint sent an error event after {self._sent} chunks: {message}",
                chunks_received=self._sent,
                code=status.status if status else None,
            )
        try:
            chunk = ChatCompletionChunk.model_validate(payload)
        except ValueError as exc:
            raise PredictionFormatError(f"a stream chunk is not an OpenAI chunk: {exc}") from exc
        self.finished = self.finished or any(c.finish_reason for c in chunk.choices)
        self._sent += 1
        return [chunk]
