"""Hugging Face TGI's native payload, for every provider that sends it (SageMaker's ``tgi`` format,
Vertex's ``raw_format: tgi``): ``{"inputs": prompt, "parameters": {...}, "stream": bool}``.

The answer is ``[{"generated_text", "details"}]``; ``details: true`` asks for ``generated_tokens``
and the finish reason (some servers add ``prompt_tokens``, or ``prefill`` with one entry per prompt
token). A stream is one event per token, the last one carrying ``generated_text`` and ``details``;
an error mid-stream arrives as ``{"error", "error_type"}``. Parsing the bytes, and what a body that
cannot be read means, stays with each provider.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import to_json

from llmgateway.errors import BadRequestError, GatewayError, RateLimitError, UpstreamServerError
from llmgateway.types import ChatCompletionChunk, ChatCompletionRequest, Usage
from providers.chunks import AnswerBuilder, usage_of
from providers.token_count import TokenCounter

# TGI's finish reasons as OpenAI's; anything else (or none) is a normal stop.
FINISH_REASONS = {"length": "length", "eos_token": "stop", "stop_sequence": "stop"}


def finish_reason(details: Any) -> str:
    reason = details.get("finish_reason") if isinstance(details, dict) else None
    return FINISH_REASONS.get(str(reason), "stop")


# TGI samples whenever one of its logits warpers is on (temperature != 1, top_k != 0, top_p < 1,
# typical_p < 1), whatever do_sample says, and takes best_of only when sampling: a greedy call sends
# none of them, wherever they came from.
SAMPLING_PARAMETERS = ("temperature", "top_p", "top_k", "typical_p", "best_of")

# What a caller may add in its request's own ``parameters``: TGI's extras the gateway has no field for.
CALLER_PARAMETERS = frozenset(
    {
        "top_k",
        "repetition_penalty",
        "frequency_penalty",
        "typical_p",
        "truncate",
        "watermark",
        "grammar",
        "top_n_tokens",
        "decoder_input_details",
    }
)
# What a caller may not set there, and why: the gateway admitted the call on these (its token limit,
# greedy or not) or reads the answer by them, and the deployment's config owns its LoRA adapter.
GATEWAY_PARAMETERS = {
    "max_new_tokens": "set the request's max_tokens instead",
    "stop": "set the request's stop instead",
    "seed": "set the request's seed instead",
    "do_sample": "set the request's temperature instead (0 decodes greedily)",
    "details": "the gateway reads token counts and the finish reason from the details",
    "return_full_text": "the gateway reads the answer as the generated text only",
    "adapter_id": "the deployment's config chooses the adapter",
    "temperature": "set the request's own 'temperature' instead",
    "top_p": "set the request's own 'top_p' instead",
}


def tgi_parameters(request: ChatCompletionRequest, defaults: dict[str, Any]) -> dict[str, Any]:
    """TGI's generation parameters for a chat request, over the deployment's ``defaults``. TGI
    wants temperature > 0 and 0 < top_p < 1 when they are given, so temperature 0 is
    ``do_sample: false`` without any sampling parameter, and top_p goes only with sampling. The
    caller's own TGI parameters (the request's extra ``parameters``: top_k, repetition_penalty...,
    only those in ``CALLER_PARAMETERS``) win over the deployment's."""
    if request.n not in (None, 1):
        raise BadRequestError("the TGI format returns one choice; n must be 1", param="n")
    params: dict[str, Any] = {**defaults, **caller_parameters(request)}
    limit = request.output_token_limit()
    if limit is not None:
        params["max_new_tokens"] = limit
    _set_sampling(params, request)
    if request.stop_list():
        params["stop"] = request.stop_list()
    if request.seed is not None:
        params["seed"] = request.seed
    if request.frequency_penalty:
        params["frequency_penalty"] = request.frequency_penalty
    return params


def caller_parameters(request: ChatCompletionRequest) -> dict[str, Any]:
    """The request's own TGI ``parameters``; BadRequestError names the first one a caller may not set."""
    extra = (request.model_extra or {}).get("parameters")
    if extra is None:
        return {}
    if not isinstance(extra, dict):
        raise BadRequestError(
            "'parameters' (TGI's generation parameters) must be an object", param="parameters"
        )
    for name in extra:
        if name in CALLER_PARAMETERS:
            continue
        reason = GATEWAY_PARAMETERS.get(name)
        if reason is None:
            allowed = ", ".join(sorted(CALLER_PARAMETERS))
            reason = f"it is not one the gateway passes on to TGI (allowed: {allowed})"
        raise BadRequestError(f"'parameters' may not set '{name}': {reason}", param=f"parameters.{name}")
    return dict(extra)


def _set_sampling(params: dict[str, Any], request: ChatCompletionRequest) -> None:
    """Greedy at temperature 0, whatever else is set; sampling at any other temperature, and with
    top_p alone (OpenAI's default temperature is 1: top_p < 1 is nucleus sampling)."""
    if request.temperature == 0:
        for name in SAMPLING_PARAMETERS:
            params.pop(name, None)
        params["do_sample"] = False
        return
    top_p = request.top_p
    nucleus = top_p is not None and 0 < top_p < 1
    if request.temperature:
        params["temperature"] = request.temperature
    if request.temperature or nucleus:
        params["do_sample"] = True
    if nucleus:
        params["top_p"] = top_p


def tgi_body(prompt: str, request: ChatCompletionRequest, defaults: dict[str, Any], *, stream: bool) -> bytes:
    """The request body; ``details`` (token counts, finish reason) unless the deployment or caller
    turned it off, and only the generated text back."""
    params = tgi_parameters(request, defaults)
    params.setdefault("details", True)
    params.setdefault("return_full_text", False)
    return to_json({"inputs": prompt, "parameters": params, "stream": stream})


def tgi_usage(details: Any, prompt: str, text: str, count: TokenCounter | None) -> Usage | None:
    """Exact counts from ``details`` where they are there, the deployment's tokenizer (``count``)
    for the rest, else None (the gateway then estimates, and marks the cost as estimated)."""
    details = details if isinstance(details, dict) else {}
    completion = details.get("generated_tokens")
    prompt_tokens = details.get("prompt_tokens")
    prefill = details.get("prefill")
    if prompt_tokens is None and isinstance(prefill, list) and prefill:
        prompt_tokens = len(prefill)
    if count is not None:
        prompt_tokens = prompt_tokens if isinstance(prompt_tokens, int) else count(prompt)
        completion = completion if isinstance(completion, int) else count(text)
    if not isinstance(prompt_tokens, int) or not isinstance(completion, int):
        return None
    return usage_of(prompt_tokens, completion)


def tgi_event_error(event: dict[str, Any], deployment: str | None) -> GatewayError:
    """An error event as its class: the request's fault, overload, or the server's."""
    kind = str(event.get("error_type") or "")
    message = f"the TGI container reported an error ({kind or 'unknown'}): {event.get('error')}"
    if kind in ("validation", "invalid_request_error"):
        return BadRequestError(message, deployment=deployment)
    if kind in ("overloaded", "rate_limit_error"):
        return RateLimitError(message, deployment=deployment)
    return UpstreamServerError(message, deployment=deployment)


class TgiTokenStream:
    """One stream's token events as chunks: a chunk per visible token (the first one with the
    assistant role), then at the final event a finish chunk and, when it can be had, a usage chunk.
    Events after the final one are ignored: nothing follows it in TGI's protocol."""

    def __init__(
        self, answer: AnswerBuilder, prompt: str, count: TokenCounter | None, deployment: str | None
    ) -> None:
        self.finished = False
        self._answer = answer
        self._prompt = prompt
        self._count = count
        self._deployment = deployment
        self._text: list[str] = []

    def take(self, event: dict[str, Any]) -> list[ChatCompletionChunk]:
        if self.finished:
            return []
        if "error" in event and "token" not in event:
            raise tgi_event_error(event, self._deployment)
        chunks: list[ChatCompletionChunk] = []
        token = event.get("token")
        piece = token.get("text") if isinstance(token, dict) and not token.get("special") else None
        if isinstance(piece, str) and piece:
            chunks.append(self._answer.chunk(piece, role=None if self._text else "assistant"))
            self._text.append(piece)
        if event.get("generated_text") is None and event.get("details") is None:
            return chunks
        self.finished = True
        details = event.get("details")
        role = None if self._text else "assistant"  # an empty answer still opens with the role
        chunks.append(self._answer.chunk(role=role, finish=finish_reason(details)))
        usage = tgi_usage(details, self._prompt, "".join(self._text), self._count)
        if usage is not None:
            chunks.append(self._answer.usage_chunk(usage))
        return chunks
