"""The Messages API payload: OpenAI's chat shape, as TGI (>= 1.4), LMI and vLLM containers take
it on ``/invocations``. Streams are OpenAI chat chunks as server-sent events, ending ``[DONE]``."""

from __future__ import annotations

from typing import Any

from pydantic_core import from_json, to_json

from llmgateway.errors import StreamInterruptedError, UpstreamServerError
from llmgateway.types import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest
from providers.aws.payload_events import PayloadEvents
from providers.aws.sagemaker_payloads import CallInfo, Prepared, UsageCounter


class MessagesFormat:
    streams_usage = True

    def __init__(self, counter: UsageCounter, model: str | None, stream_usage: bool) -> None:
        self._counter = counter
        self._model = model
        self._stream_usage = stream_usage

    def prepare(self, request: ChatCompletionRequest, stream: bool) -> Prepared:
        payload: dict[str, Any] = request.model_dump(exclude_none=True)
        # The gateway's public model name means nothing to the container.
        payload.pop("model", None)
        if self._model is not None:
            payload["model"] = self._model
        payload["stream"] = stream
        if stream and self._stream_usage:
            payload["stream_options"] = {"include_usage": True}
        else:
            payload.pop("stream_options", None)
        return Prepared(to_json(payload))

    def answer(
        self, raw: bytes, request: ChatCompletionRequest, prepared: Prepared, call: CallInfo
    ) -> ChatCompletion:
        try:
            answer = ChatCompletion.model_validate_json(raw)
        except ValueError as exc:
            raise call.invalid("chat completion", exc) from exc
        if answer.usage is None:
            answer.usage = self._counter.count(request.messages, answer.text())
        return answer

    def reader(
        self, request: ChatCompletionRequest, prepared: Prepared, call: CallInfo
    ) -> MessagesStreamReader:
        return MessagesStreamReader(request, call, self._counter)


class MessagesStreamReader:
    def __init__(self, request: ChatCompletionRequest, call: CallInfo, counter: UsageCounter) -> None:
        self._request = request
        self._call = call
        self._counter = counter
        self._events = PayloadEvents()
        self._text: list[str] = []
        self._usage_seen = False
        self.finished = False

    def feed(self, payload: bytes, sent: int) -> list[ChatCompletionChunk]:
        return [c for data in self._events.feed(payload) if (c := self._event(data, sent)) is not None]

    def close(self, sent: int) -> list[ChatCompletionChunk]:
        chunks = [c for data in self._events.close() if (c := self._event(data, sent)) is not None]
        if self.finished and not self._usage_seen:
            usage = self._counter.count(self._request.messages, "".join(self._text))
            if usage is not None:
                chunks.append(self._call.usage_chunk(usage))
        return chunks

    def _event(self, data: str, sent: int) -> ChatCompletionChunk | None:
        if data == "[DONE]":
            self.finished = True
            return None
        try:
            payload = from_json(data)
        except ValueError as exc:
            raise self._call.invalid("stream event", exc) from exc
        if isinstance(payload, dict) and "error" in payload and "choices" not in payload:
            error = payload["error"]
            message = error.get("message") if isinstance(error, dict) else error
            text = f"the container sent an error event after {sent} chunks: {message}"
            if sent:
                raise StreamInterruptedError(text, chunks_received=sent, deployment=self._call.deployment)
            raise UpstreamServerError(text, deployment=self._call.deployment)
        try:
            chunk = ChatCompletionChunk.model_validate(payload)
        except ValueError as exc:
            raise self._call.invalid("stream chunk", exc) from exc
        for choice in chunk.choices:
            if choice.delta.content:
                self._text.append(choice.delta.content)
            if choice.finish_reason:
                self.finished = True
        if chunk.usage is not None:
            self._usage_seen = True
        return chunk
