"""The Vertex AI custom-container contract.

Vertex sets ``AIP_HTTP_PORT``, ``AIP_HEALTH_ROUTE`` and ``AIP_PREDICT_ROUTE``; the container
answers health checks on the one and ``{"instances": [...], "parameters": {...}}`` on the other with
``{"predictions": [...]}``, one prediction per instance, in order. An instance is a prompt string,
``{"prompt": ...}`` / ``{"inputs": ...}`` (raw text completion), or ``{"messages": [...]}`` (chat
through the model's template); each prediction is the generated text.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmgateway.errors import BadRequestError
from llmgateway.types import ChatCompletionRequest, CompletionRequest, Usage
from local_backend.http_errors import parse, read_json
from local_backend.routes_openai import guarded

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from local_backend.service import LocalService

_SAMPLING_KEYS = ("max_tokens", "temperature", "top_p", "stop", "seed")


@dataclass(frozen=True)
class VertexRoutes:
    port: int
    health: str
    predict: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> VertexRoutes:
        values = os.environ if env is None else env
        return cls(
            port=int(values.get("AIP_HTTP_PORT", "8080")),
            health=values.get("AIP_HEALTH_ROUTE", "/health"),
            predict=values.get("AIP_PREDICT_ROUTE", "/predict"),
        )


def _sampling(parameters: Mapping[str, Any], instance: Mapping[str, Any]) -> dict[str, Any]:
    merged = {**parameters, **instance}
    if "max_new_tokens" in merged and "max_tokens" not in merged:
        merged["max_tokens"] = merged["max_new_tokens"]
    return {key: merged[key] for key in _SAMPLING_KEYS if merged.get(key) is not None}


async def predict_one(
    service: LocalService, instance: Any, parameters: Mapping[str, Any]
) -> tuple[str, Usage]:
    if isinstance(instance, str):
        instance = {"prompt": instance}
    if not isinstance(instance, dict):
        raise BadRequestError("each instance must be a string or an object with prompt, inputs or messages")
    sampling = _sampling(parameters, instance)
    if "messages" in instance:
        chat: ChatCompletionRequest = parse(
            ChatCompletionRequest, {"model": "local", "messages": instance["messages"], **sampling}
        )
        reply = await service.chat(chat)
        return reply.text(), reply.usage or Usage()
    prompt = instance.get("prompt", instance.get("inputs"))
    if not isinstance(prompt, str) or not prompt:
        raise BadRequestError("an instance needs a non-empty 'prompt' (or 'inputs', or 'messages')")
    request: CompletionRequest = parse(CompletionRequest, {"model": "local", "prompt": prompt, **sampling})
    completion = await service.completions(request)
    return completion.choices[0].text, completion.usage or Usage()


def vertex_routes(
    get: Callable[[], LocalService], is_ready: Callable[[], bool], routes: VertexRoutes
) -> list[Route]:
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def health(request: Request) -> Response:
        ready = bool(is_ready())
        return JSONResponse({"status": "ok" if ready else "loading"}, status_code=200 if ready else 503)

    async def predict(request: Request) -> Response:
        body = await read_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("instances"), list) or not body["instances"]:
            raise BadRequestError('the body must be {"instances": [...], "parameters": {...}}')
        parameters = body.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise BadRequestError("'parameters' must be an object")
        # Instances run concurrently: the scheduler batches them together.
        service = get()
        tasks = [asyncio.ensure_future(predict_one(service, i, parameters)) for i in body["instances"]]
        try:
            results = await asyncio.gather(*tasks)
        finally:
            for task in tasks:  # one failed instance: stop generating the others
                task.cancel()
        usage = {
            "prompt_tokens": sum(u.prompt_tokens for _, u in results),
            "completion_tokens": sum(u.completion_tokens for _, u in results),
            "compute_seconds": round(sum(u.compute_seconds or 0.0 for _, u in results), 6),
        }
        return JSONResponse({"predictions": [text for text, _ in results], "usage": usage})

    return [
        Route(routes.health, health, methods=["GET"]),
        Route(routes.predict, guarded(predict), methods=["POST"]),
    ]
