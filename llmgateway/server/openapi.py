"""``GET /openapi.json``: an OpenAPI 3.1 description of the /v1 routes, generated from the SDK's
wire models (requests as validated, responses as serialised), with the bearer scheme and the
OpenAI-style error body. Built on the first request and kept by the route, once per app."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from llmgateway.types import (
    ChatCompletion,
    ChatCompletionRequest,
    Completion,
    CompletionRequest,
    EmbeddingRequest,
    EmbeddingResponse,
    ModelCard,
    ModelList,
)
from llmgateway.version import __version__

if TYPE_CHECKING:
    from pydantic import BaseModel
    from starlette.routing import BaseRoute
    from starlette.types import Receive, Scope, Send

    from llmgateway.types import WireModel

PATH = "/openapi.json"
_REF = "#/components/schemas/{model}"
_ERROR = "ErrorResponse"
# Every status the proxy itself answers with an error body, and when.
_ERRORS = {
    "400": "Invalid request: bad JSON, a field out of range, nested too deep",
    "401": "Missing or invalid API key",
    "403": "This key may not use the model",
    "404": "No such model",
    "408": "The request body did not arrive in time",
    "413": "The request body is too large",
    "429": "A rate limit or budget is exhausted; see Retry-After",
    "500": "The gateway failed unexpectedly",
    "502": "The upstream failed or refused the gateway",
    "503": "No deployment can serve the call now",
    "504": "The upstream timed out",
}
_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}
_SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "data": {
            "type": "string",
            "description": "A ChatCompletionChunk as JSON (or an error object); the last event is [DONE]",
        },
        "event": {"type": "string"},
        "id": {"type": "string"},
        "retry": {"type": "integer"},
    },
}
_POSTS: tuple[tuple[str, str, type[WireModel], type[WireModel], bool], ...] = (
    ("/v1/chat/completions", "createChatCompletion", ChatCompletionRequest, ChatCompletion, True),
    ("/v1/completions", "createCompletion", CompletionRequest, Completion, False),
    ("/v1/embeddings", "createEmbedding", EmbeddingRequest, EmbeddingResponse, False),
)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF.format(model=name)}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _operation(
    operation_id: str, ok: dict[str, Any], statuses: tuple[str, ...], body: dict[str, Any] | None = None
) -> dict[str, Any]:
    responses = {"200": ok}
    responses.update({s: _json(_ref(_ERROR), _ERRORS[s]) for s in statuses})
    operation: dict[str, Any] = {"operationId": operation_id, "responses": responses}
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return operation


def build_openapi() -> dict[str, Any]:
    """The document, as a dict."""
    from pydantic.json_schema import models_json_schema

    pairs: list[tuple[type[BaseModel], Any]] = []
    for _, _, request, response, _ in _POSTS:
        pairs += [(request, "validation"), (response, "serialization")]
    pairs += [(ModelList, "serialization"), (ModelCard, "serialization")]
    refs, top = models_json_schema(pairs, ref_template=_REF)
    schemas: dict[str, Any] = {**top.get("$defs", {}), _ERROR: _ERROR_SCHEMA}
    paths: dict[str, Any] = {}
    for path, operation_id, request, response, streams in _POSTS:
        ok = _json(refs[(response, "serialization")], f"The {response.__name__}")
        if streams:  # with "stream": true, server-sent events (before 3.2, the schema is one event's)
            ok["content"]["text/event-stream"] = {"schema": _SSE_EVENT}
        paths[path] = {"post": _operation(operation_id, ok, tuple(_ERRORS), refs[(request, "validation")])}
    lookups = ("401", "404", "500")
    paths["/v1/models"] = {
        "get": _operation("listModels", _json(refs[(ModelList, "serialization")], "The models"), lookups)
    }
    single = _operation("retrieveModel", _json(refs[(ModelCard, "serialization")], "The model"), lookups)
    single["parameters"] = [{"name": "model", "in": "path", "required": True, "schema": {"type": "string"}}]
    paths["/v1/models/{model}"] = {"get": single}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "llmgateway",
            "version": __version__,
            "description": "OpenAI-compatible proxy: routing, retries, caching and cost accounting in "
            "front of many LLM backends",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearerAuth": []}],
    }


class OpenAPIEndpoint:
    """Serves the document; built on first request, then kept as bytes."""

    def __init__(self) -> None:
        self._body: bytes | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        from llmgateway.server.errors import JSON_HEADERS, send_json

        if self._body is None:
            self._body = json.dumps(build_openapi()).encode()
        await send_json(send, 200, self._body, JSON_HEADERS)


def openapi_route() -> BaseRoute:
    from starlette.routing import Route

    return Route(PATH, OpenAPIEndpoint(), methods=["GET"])
