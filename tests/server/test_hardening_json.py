"""The JSON nesting limit (server.max_json_depth): the depth scan agrees with a real parse, deep
bodies get 400 json_too_deep on the /v1 routes and the admin API (never a 500 or a
RecursionError), and the limit is configurable."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from llmgateway.errors import BadRequestError
from llmgateway.server.json_limits import DEFAULT_MAX_JSON_DEPTH, exceeds_depth, json_depth
from llmgateway.server.routes_openai import parse_body
from llmgateway.types import ChatCompletionRequest, EmbeddingRequest
from tests.server.harness import MASTER_KEY, RunningServer, mock_config

AUTH = {"authorization": f"Bearer {MASTER_KEY}"}
LIMIT = 8


def reference_depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((reference_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((reference_depth(v) for v in value.values()), default=0)
    return 0


def random_value(rng: random.Random, depth: int) -> Any:
    """Nested lists and objects, with strings full of brackets, quotes and escapes."""
    kind = rng.randrange(5) if depth > 0 else rng.randrange(2)
    if kind == 0:
        return "".join(rng.choice('[]{}"\\ ab\n\u00e9') for _ in range(rng.randrange(8)))
    if kind == 1:
        return rng.choice([1, -2.5, True, None])
    if kind in (2, 3):
        return [random_value(rng, depth - 1) for _ in range(rng.randrange(4))]
    return {f'k{i}["': random_value(rng, depth - 1) for i in range(rng.randrange(4))}


def nested(depth: int) -> bytes:
    return b'{"model": "chat", "messages": [{"role": "user", "content": "x"}], "extra": ' + (
        b"[" * depth + b"]" * depth + b"}"
    )


def test_depth_scan_agrees_with_a_parse() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        value = random_value(rng, rng.randrange(12))
        raw = json.dumps(value, ensure_ascii=rng.random() < 0.5).encode()
        assert json_depth(raw) == reference_depth(value), raw


def test_few_brackets_skip_the_scan() -> None:
    # The bracket count alone proves the body shallow; a deep one needs a scan.
    assert not exceeds_depth(b'{"a": [[[1]]]}', 4)
    assert exceeds_depth(b"[[[[[]]]]]", 4)
    assert not exceeds_depth(b'{"s": "[[[[[[[[[["}', 4)  # brackets inside a string do not nest


@pytest.mark.parametrize("depth", [DEFAULT_MAX_JSON_DEPTH + 1, 1000, 100_000])
def test_parse_body_refuses_deep_bodies(depth: int) -> None:
    with pytest.raises(BadRequestError) as caught:
        parse_body(ChatCompletionRequest, nested(depth))
    assert caught.value.code == "json_too_deep" and caught.value.status_code == 400
    assert str(DEFAULT_MAX_JSON_DEPTH) in caught.value.message and "max_json_depth" in caught.value.message


def test_parse_body_accepts_up_to_the_limit() -> None:
    # The extra field's brackets plus the outer object and the messages list.
    request = parse_body(ChatCompletionRequest, nested(DEFAULT_MAX_JSON_DEPTH - 1))
    assert request.model == "chat"
    embedding = parse_body(EmbeddingRequest, json.dumps({"model": "e", "input": [[1, 2]] * 500}).encode())
    assert len(embedding.input) == 500


@pytest.fixture(scope="module")
def shallow_server() -> Iterator[RunningServer]:
    with RunningServer(mock_config(max_json_depth=LIMIT)) as running:
        yield running


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/completions", "/v1/embeddings"])
def test_deep_bodies_get_400_on_the_v1_routes(shallow_server: RunningServer, path: str) -> None:
    for depth in (LIMIT, 50_000):
        response = httpx.post(f"{shallow_server.url}{path}", content=nested(depth), headers=AUTH, timeout=10)
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == "json_too_deep" and f"limit of {LIMIT} levels" in error["message"]
    ok = {"model": "chat", "messages": [{"role": "user", "content": "[[[[[[[[[[[[[[[["}]}
    response = httpx.post(f"{shallow_server.url}/v1/chat/completions", json=ok, headers=AUTH, timeout=10)
    assert response.status_code == 200
    assert httpx.get(f"{shallow_server.url}/health/live").status_code == 200


def test_deep_bodies_get_400_on_the_admin_api(shallow_server: RunningServer) -> None:
    deep = b'{"name": "x", "metadata": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = httpx.post(f"{shallow_server.url}/admin/keys", content=deep, headers=AUTH, timeout=10)
    assert response.status_code == 400 and response.json()["error"]["code"] == "json_too_deep"
    # A form is not JSON: brackets in a dashboard login are the form's business.
    form = {"key": "[" * 100}
    response = httpx.post(f"{shallow_server.url}/ui/login", data=form, timeout=10)
    assert response.status_code == 401 and "not the master key" in response.text
