"""GET /openapi.json: an OpenAPI 3.1 document of the /v1 routes, generated from the wire models,
that a real answer of the proxy conforms to, built once per app."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from llmgateway.server import openapi
from tests.server.harness import MASTER_KEY, RunningServer

AUTH = {"authorization": f"Bearer {MASTER_KEY}"}
OPERATIONS = {
    ("/v1/chat/completions", "post"): "ChatCompletion",
    ("/v1/completions", "post"): "Completion",
    ("/v1/embeddings", "post"): "EmbeddingResponse",
    ("/v1/models", "get"): "ModelList",
    ("/v1/models/{model}", "get"): "ModelCard",
}


def resolve(document: dict[str, Any], ref: str) -> dict[str, Any]:
    assert ref.startswith("#/components/schemas/"), ref
    schema: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return schema


def all_refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in all_refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in all_refs(v)]
    return []


def test_document_describes_the_v1_routes(server: RunningServer) -> None:
    response = httpx.get(f"{server.url}/openapi.json")  # no key needed: it holds no secrets
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    document = response.json()
    assert document["openapi"] == "3.1.0" and document["info"]["title"] == "llmgateway"
    assert document["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    assert document["security"] == [{"bearerAuth": []}]
    for ref in all_refs(document):  # every reference resolves
        resolve(document, ref)
    for (path, method), answer in OPERATIONS.items():
        operation = document["paths"][path][method]
        ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok == {"$ref": f"#/components/schemas/{answer}"}
        for status in ("401", "500"):
            error = operation["responses"][status]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/ErrorResponse"}
    chat = document["paths"]["/v1/chat/completions"]["post"]
    body = resolve(document, chat["requestBody"]["content"]["application/json"]["schema"]["$ref"])
    assert set(body["required"]) == {"model", "messages"}
    assert body["properties"]["temperature"]["anyOf"][0]["maximum"] == 2
    assert body.get("additionalProperties") is True  # unknown fields travel on, as documented
    assert "text/event-stream" in chat["responses"]["200"]["content"]
    for status in ("400", "413", "408", "429", "502"):
        assert status in chat["responses"]
    error = document["components"]["schemas"]["ErrorResponse"]["properties"]["error"]
    assert set(error["properties"]) == {"message", "type", "param", "code"}


def test_schemathesis_loads_it_and_real_answers_conform(server: RunningServer) -> None:
    import schemathesis
    from schemathesis.checks import not_a_server_error
    from schemathesis.core.result import Ok
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    # The checks of the document itself (the auth checks would take the key set here for a
    # generated one and probe it).
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    results = list(schema.get_all_operations())
    assert all(isinstance(result, Ok) for result in results)
    labels = {result.ok().label for result in results if isinstance(result, Ok)}
    assert labels == {
        "POST /v1/chat/completions",
        "POST /v1/completions",
        "POST /v1/embeddings",
        "GET /v1/models",
        "GET /v1/models/{model}",
    }
    chat = schema["/v1/chat/completions"]["POST"]
    calls: list[dict[str, Any]] = [
        {"model": "chat", "messages": [{"role": "user", "content": "hi"}]},
        {"model": "chat", "messages": [{"role": "user", "content": "hi"}], "stream": True},
        {"model": "chat", "messages": []},  # 400
        {"model": "nope", "messages": [{"role": "user", "content": "hi"}]},  # 404
    ]
    for body in calls:
        case = chat.Case(body=body, headers=dict(AUTH), media_type="application/json")
        response = case.call(base_url=server.url)
        case.validate_response(response, checks=checks)  # raises on an undocumented status or shape
    models = schema["/v1/models/{model}"]["GET"]
    for name in ("chat", "nope"):
        case = models.Case(path_parameters={"model": name}, headers=dict(AUTH))
        case.validate_response(case.call(base_url=server.url), checks=checks)


def test_built_once_per_app(server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.server.harness import mock_config

    builds: list[int] = []
    real = openapi.build_openapi

    def counted() -> dict[str, Any]:
        builds.append(1)
        return real()

    monkeypatch.setattr(openapi, "build_openapi", counted)
    with RunningServer(mock_config()) as fresh:
        first = httpx.get(f"{fresh.url}/openapi.json").content
        second = httpx.get(f"{fresh.url}/openapi.json").content
    assert first == second and len(builds) == 1
