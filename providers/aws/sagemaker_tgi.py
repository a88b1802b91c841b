"""SageMaker's ``tgi`` format: Hugging Face TGI's native payload (``providers.tgi``) with the chat
rendered into ``inputs`` by the model's chat template (or a configured one), the deployment's
``parameters`` as defaults, and TGI's token events read out of the response stream's PayloadParts.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import from_json

from llmgateway.types import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest
from providers.aws.payload_events import PayloadEvents
from providers.aws.sagemaker_payloads import CallInfo, Prepared, UsageCounter
from providers.chat_render import ChatRenderer
from providers.tgi import TgiTokenStream, finish_reason, tgi_body, tgi_usage


class TgiFormat:
    streams_usage = True

    def __init__(self, renderer: ChatRenderer, counter: UsageCounter, defaults: dict[str, Any]) -> None:
        self._renderer = renderer
        self._counter = counter
        self._defaults = defaults

    def prepare(self, request: ChatCompletionRequest, stream: bool) -> Prepared:
        prompt = self._renderer.render(request.messages)
        return Prepared(tgi_body(prompt, request, self._defaults, stream=stream), prompt)

    def answer(
        self, raw: bytes, request: ChatCompletionRequest, prepared: Prepared, call: CallInfo
    ) -> ChatCompletion:
        try:
            payload = from_json(raw)
        except ValueError as exc:
            raise call.invalid("TGI answer", exc) from exc
        item = payload[0] if isinstance(payload, list) and payload else payload
        if not isinstance(item, dict) or not isinstance(item.get("generated_text"), str):
            expected = f"expected [{{'generated_text': ...}}], got {str(payload)[:200]}"
            raise call.invalid("TGI answer", expected)
        text: str = item["generated_text"]
        details = item.get("details")
        usage = tgi_usage(details, prepared.prompt or "", text, self._counter.count_text)
        return call.completion([text], [finish_reason(details)], usage)

    def reader(self, request: ChatCompletionRequest, prepared: Prepared, call: CallInfo) -> TgiStreamReader:
        return TgiStreamReader(prepared.prompt or "", call, self._counter)


class TgiStreamReader:
    """PayloadPart bytes -> TGI's server-sent events -> chunks."""

    def __init__(self, prompt: str, call: CallInfo, counter: UsageCounter) -> None:
        self._call = call
        self._events = PayloadEvents()
        self._tokens = TgiTokenStream(call, prompt, counter.count_text, call.deployment)

    @property
    def finished(self) -> bool:
        return self._tokens.finished

    def feed(self, payload: bytes, sent: int) -> list[ChatCompletionChunk]:
        return [chunk for data in self._events.feed(payload) for chunk in self._event(data)]

    def close(self, sent: int) -> list[ChatCompletionChunk]:
        return [chunk for data in self._events.close() for chunk in self._event(data)]

    def _event(self, data: str) -> list[ChatCompletionChunk]:
        if self._tokens.finished:
            return []  # nothing follows the final event in TGI's protocol
        try:
            event = from_json(data)
        except ValueError as exc:
            raise self._call.invalid("stream event", exc) from exc
        if not isinstance(event, dict):
            raise self._call.invalid("stream event", data[:200])
        return self._tokens.take(event)
