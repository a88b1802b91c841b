"""Hugging Face TGI's native payload: ``{"inputs": prompt, "parameters": {...}, "stream": bool}``.

The chat is rendered into ``inputs`` with the model's chat template (or a configured one). The
answer is ``[{"generated_text", "details"}]``; ``details: true`` asks for ``generated_tokens``
and the finish reason. A stream is one server-sent event per token, the last one carrying
``generated_text`` and ``details``; an error mid-stream arrives as ``{"error", "error_type"}``.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import from_json, to_json

from llmgateway.errors import BadRequestError, GatewayError, RateLimitError, UpstreamServerError
from llmgateway.types import (
    ChatChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ResponseMessage,
    Usage,
)
from providers.aws.payload_events import PayloadEvents
from providers.aws.sagemaker_payloads import CallInfo, Prepared, UsageCounter
from providers.chat_render import ChatRenderer

_FINISH = {"length": "length", "eos_token": "stop", "stop_sequence": "stop"}


def tgi_parameters(request: ChatCompletionRequest, defaults: dict[str, Any]) -> dict[str, Any]:
    """TGI's generation parameters for a chat request. TGI decodes greedily unless asked to
    sample, and wants temperature > 0 and 0 < top_p < 1 when they are given."""
    if request.n not in (None, 1):
        raise BadRequestError("the TGI format returns one choice; n must be 1", param="n")
    params: dict[str, Any] = dict(defaults)
    limit = request.output_token_limit()
    if limit is not None:
        params["max_new_tokens"] = limit
    if request.temperature:
        params["do_sample"] = True
        params["temperature"] = request.temperature
        if request.top_p is not None and 0 < request.top_p < 1:
            params["top_p"] = request.top_p
    elif request.temperature == 0:
        params["do_sample"] = False
    if request.stop_list():
        params["stop"] = request.stop_list()
    if request.seed is not None:
        params["seed"] = request.seed
    if request.frequency_penalty:
        params["frequency_penalty"] = request.frequency_penalty
    extra = (request.model_extra or {}).get("parameters")
    if isinstance(extra, dict):
        params.update(extra)  # the caller's own TGI parameters (top_k, repetition_penalty...)
    return params


def tgi_usage(details: Any, prompt: str, text: str, counter: UsageCounter) -> Usage | None:
    """Exact counts from ``details`` where they are there, the tokenizer for the rest, else None."""
    details = details if isinstance(details, dict) else {}
    completion = details.get("generated_tokens")
    prompt_tokens = details.get("prompt_tokens")  # not TGI's; some containers add it
    prefill = details.get("prefill")
    if prompt_tokens is None and isinstance(prefill, list) and prefill:
        prompt_tokens = len(prefill)  # decoder_input_details: one entry per prompt token
    tokenizer = counter.tokenizer
    if tokenizer is not None:
        prompt_tokens = prompt_tokens if isinstance(prompt_tokens, int) else tokenizer.count_text(prompt)
        completion = completion if isinstance(completion, int) else tokenizer.count_text(text)
    if not isinstance(prompt_tokens, int) or not isinstance(completion, int):
        return None
    return Usage(
        prompt_tokens=prompt_tokens, completion_tokens=completion, total_tokens=prompt_tokens + completion
    )


def _event_error(payload: dict[str, Any], call: CallInfo) -> GatewayError:
    kind = str(payload.get("error_type") or "")
    message = f"the TGI container reported an error ({kind or 'unknown'}): {payload.get('error')}"
    if kind in ("validation", "invalid_request_error"):
        return BadRequestError(message, deployment=call.deployment)
    if kind in ("overloaded", "rate_limit_error"):
        return RateLimitError(message, deployment=call.deployment)
    return UpstreamServerError(message, deployment=call.deployment)


class TgiFormat:
    streams_usage = True

    def __init__(self, renderer: ChatRenderer, counter: UsageCounter, defaults: dict[str, Any]) -> None:
        self._renderer = renderer
        self._counter = counter
        self._defaults = defaults

    def prepare(self, request: ChatCompletionRequest, stream: bool) -> Prepared:
        prompt = self._renderer.render(request.messages)
        params = tgi_parameters(request, self._defaults)
        params.setdefault("details", True)
        params.setdefault("return_full_text", False)
        return Prepared(to_json({"inputs": prompt, "parameters": params, "stream": stream}), prompt)

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
        reason = details.get("finish_reason") if isinstance(details, dict) else None
        finish = _FINISH.get(str(reason), "stop")
        return ChatCompletion(
            id=call.id,
            created=call.created,
            model=call.model,
            choices=[ChatChoice(index=0, message=ResponseMessage(content=text), finish_reason=finish)],
            usage=tgi_usage(details, prepared.prompt or "", text, self._counter),
        )

    def reader(self, request: ChatCompletionRequest, prepared: Prepared, call: CallInfo) -> TgiStreamReader:
        return TgiStreamReader(prepared.prompt or "", call, self._counter)


class TgiStreamReader:
    def __init__(self, prompt: str, call: CallInfo, counter: UsageCounter) -> None:
        self._prompt = prompt
        self._call = call
        self._counter = counter
        self._events = PayloadEvents()
        self._text: list[str] = []
        self.finished = False

    def feed(self, payload: bytes, sent: int) -> list[ChatCompletionChunk]:
        chunks: list[ChatCompletionChunk] = []
        for data in self._events.feed(payload):
            self._event(data, sent + len(chunks), chunks)
        return chunks

    def close(self, sent: int) -> list[ChatCompletionChunk]:
        chunks: list[ChatCompletionChunk] = []
        for data in self._events.close():
            self._event(data, sent + len(chunks), chunks)
        return chunks

    def _event(self, data: str, sent: int, chunks: list[ChatCompletionChunk]) -> None:
        if self.finished:
            return  # nothing follows the final event in TGI's protocol
        try:
            event = from_json(data)
        except ValueError as exc:
            raise self._call.invalid("stream event", exc) from exc
        if not isinstance(event, dict):
            raise self._call.invalid("stream event", data[:200])
        if "error" in event and "token" not in event:
            raise _event_error(event, self._call)
        token = event.get("token")
        piece = token.get("text") if isinstance(token, dict) and not token.get("special") else None
        if piece:
            self._text.append(piece)
            first = sent == 0 and len(self._text) == 1
            chunks.append(self._call.chunk(piece, role="assistant" if first else None))
        if event.get("generated_text") is None and event.get("details") is None:
            return
        self.finished = True
        details = event.get("details")
        reason = details.get("finish_reason") if isinstance(details, dict) else None
        chunks.append(self._call.chunk(finish=_FINISH.get(str(reason), "stop")))
        usage = tgi_usage(details, self._prompt, "".join(self._text), self._counter)
        if usage is not None:
            chunks.append(self._call.usage_chunk(usage))
