"""The SageMaker container contract: ``GET /ping`` and ``POST /invocations`` (port 8080).

``/invocations`` takes the Hugging Face TGI shape ``{"inputs", "parameters", "stream"}`` (raw text,
no chat template; answer ``[{"generated_text", "details"?}]``, or TGI's token events when
streaming) and the Messages shape ``{"messages", ...}`` (OpenAI chat, answered as OpenAI chat).
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from llmgateway.errors import BadRequestError, GatewayError, UpstreamServerError
from llmgateway.sse import format_sse
from llmgateway.types import ChatCompletionRequest, Completion, CompletionRequest
from local_backend.http_errors import model_json, parse, read_json
from local_backend.routes_openai import guarded, start_stream

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from local_backend.service import LocalService

_TGI_PARAMETERS = {
    "max_new_tokens",
    "temperature",
    "top_p",
    "stop",
    "seed",
    "do_sample",
    "details",
    "return_full_text",
    "decoder_input_details",
    "top_k",
    "repetition_penalty",
    "truncate",
    "watermark",
    "best_of",
    "typical_p",
    "frequency_penalty",
    "top_n_tokens",
    "grammar",
    "adapter_id",
}


def tgi_to_completion(body: dict[str, Any]) -> CompletionRequest:
    """TGI's ``inputs`` + ``parameters`` as a completion request. Without ``do_sample`` (and no
    temperature) TGI decodes greedily, and so do we."""
    inputs = body.get("inputs")
    if not isinstance(inputs, str) or not inputs:
        raise BadRequestError("'inputs' must be a non-empty string (or send 'messages' for chat)")
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        raise BadRequestError("'parameters' must be an object")
    unknown = set(params) - _TGI_PARAMETERS
    if unknown:
        raise BadRequestError(f"unknown TGI parameters: {', '.join(sorted(unknown))}")
    sampling = bool(params.get("do_sample")) or params.get("temperature") not in (None, 0)
    payload: dict[str, Any] = {
        "model": "local",
        "prompt": inputs,
        "max_tokens": params.get("max_new_tokens"),
        "temperature": (params.get("temperature") or 1.0) if sampling else 0.0,
        "top_p": params.get("top_p") if sampling else None,
        "stop": params.get("stop"),
        "seed": params.get("seed"),
    }
    request: CompletionRequest = parse(CompletionRequest, {k: v for k, v in payload.items() if v is not None})
    return request


def tgi_finish_reason(finish: str | None, has_stops: bool) -> str:
    # The engine reports "stop" for both end-of-sequence and a stop string; with stop strings
    # asked for, TGI's nearest term is stop_sequence.
    if finish == "length":
        return "length"
    return "stop_sequence" if has_stops else "eos_token"


def tgi_details(completion: Completion, request: CompletionRequest) -> dict[str, Any]:
    usage = completion.usage
    return {
        "finish_reason": tgi_finish_reason(completion.choices[0].finish_reason, bool(request.stop)),
        "generated_tokens": usage.completion_tokens if usage else 0,
        "prompt_tokens": usage.prompt_tokens if usage else 0,
        "seed": request.seed,
    }


async def tgi_stream(
    first: Completion, chunks: AsyncGenerator[Completion, None], request: CompletionRequest, prefix: str
) -> AsyncIterator[bytes]:
    """TGI's server-sent events: one per text piece, the last with ``generated_text`` and details.
    An error after the first event can only be reported as an event (the 200 is already sent)."""
    text: list[str] = []
    index = 0
    chunk: Completion | None = first
    try:
        while chunk is not None:
            piece = chunk.choices[0].text if chunk.choices else ""
            final = chunk.usage is not None
            index += 1
            text.append(piece)
            event: dict[str, Any] = {
                "index": index,
                "token": {"id": index, "text": piece, "logprob": None, "special": final and not piece},
                "generated_text": prefix + "".join(text) if final else None,
                "details": tgi_details(chunk, request) if final else None,
            }
            yield format_sse(json.dumps(event))
            chunk = await anext(chunks, None)
    except GatewayError as exc:
        yield format_sse(json.dumps({"error": exc.message, "error_type": exc.error_type}))
    finally:
        await chunks.aclose()


def sagemaker_routes(get: Callable[[], LocalService], is_ready: Callable[[], bool]) -> list[Route]:
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    async def ping(request: Request) -> Response:
        ready = bool(is_ready())
        return JSONResponse({"status": "ok" if ready else "loading"}, status_code=200 if ready else 503)

    async def invocations(request: Request) -> Response:
        body = await read_json(request)
        if not isinstance(body, dict):
            raise BadRequestError("the body must be a JSON object with 'inputs' or 'messages'")
        if "messages" in body:
            chat: ChatCompletionRequest = parse(ChatCompletionRequest, {"model": "local", **body})
            if chat.stream:
                return await start_stream(get().stream_chat(chat))
            return model_json(await get().chat(chat))
        completion_request = tgi_to_completion(body)
        params = body.get("parameters") or {}
        prefix = body["inputs"] if params.get("return_full_text") else ""
        if body.get("stream"):
            chunks = get().stream_completions(completion_request)
            # The first chunk is awaited here, so errors at once (queue full, prompt too long)
            # still answer with their own status rather than a 200 carrying an error event.
            try:
                first = await chunks.__anext__()
            except StopAsyncIteration:
                raise UpstreamServerError("the local backend produced no output") from None
            except BaseException:
                await chunks.aclose()
                raise
            events = tgi_stream(first, chunks, completion_request, prefix)
            return StreamingResponse(events, media_type="text/event-stream")
        completion = await get().completions(completion_request)
        answer: dict[str, Any] = {"generated_text": prefix + completion.choices[0].text}
        if params.get("details"):
            answer["details"] = tgi_details(completion, completion_request)
        return JSONResponse([answer])

    return [
        Route("/ping", ping, methods=["GET"]),
        Route("/invocations", guarded(invocations), methods=["POST"]),
    ]
