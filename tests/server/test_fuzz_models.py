"""parse_body on arbitrary input, for every request model: it either returns the model or raises
BadRequestError (the proxy's 400), never anything else (which would be a 500)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmgateway.errors import BadRequestError
from llmgateway.server.routes_openai import parse_body
from llmgateway.types import ChatCompletionRequest, CompletionRequest, EmbeddingRequest, WireModel

MODELS: list[type[WireModel]] = [ChatCompletionRequest, CompletionRequest, EmbeddingRequest]
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
)
message = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "system", "assistant", "tool", "nobody"]) | json_values},
    optional={"content": json_values, "name": json_values, "tool_calls": json_values},
)
# Shaped like the real requests (so validation goes past the first field), with any value anywhere.
near_requests = st.fixed_dictionaries(
    {"model": st.text(max_size=10) | json_values},
    optional={
        "messages": st.lists(message, max_size=3) | json_values,
        "prompt": json_values,
        "input": json_values,
        "temperature": json_values,
        "max_tokens": json_values,
        "n": json_values,
        "stop": json_values,
        "stream": json_values,
        "stream_options": json_values,
        "tools": json_values,
        "routing": json_values,
        "cache": json_values,
    },
)


def check(model_cls: type[WireModel], raw: bytes) -> None:
    try:
        parsed = parse_body(model_cls, raw)
    except BadRequestError as exc:
        assert exc.status_code == 400 and exc.message
        return
    assert isinstance(parsed, model_cls)
    parsed.model_dump_json()  # what travels on must serialise


@pytest.mark.parametrize("model_cls", MODELS, ids=lambda m: m.__name__)
@SETTINGS
@given(raw=st.binary(max_size=200))
def test_arbitrary_bytes(model_cls: type[WireModel], raw: bytes) -> None:
    check(model_cls, raw)


@pytest.mark.parametrize("model_cls", MODELS, ids=lambda m: m.__name__)
@SETTINGS
@given(value=json_values)
def test_arbitrary_json(model_cls: type[WireModel], value: Any) -> None:
    check(model_cls, json.dumps(value).encode())


@pytest.mark.parametrize("model_cls", MODELS, ids=lambda m: m.__name__)
@SETTINGS
@given(value=near_requests)
def test_nearly_valid_requests(model_cls: type[WireModel], value: dict[str, Any]) -> None:
    # json.dumps writes NaN and Infinity as bare words, which strict JSON parsers refuse.
    check(model_cls, json.dumps(value).encode())


@pytest.mark.parametrize("model_cls", MODELS, ids=lambda m: m.__name__)
@SETTINGS
@given(depth=st.integers(1, 5000), opener=st.sampled_from(["[", '{"a":']))
def test_any_nesting(model_cls: type[WireModel], depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    check(model_cls, f'{{"model": "m", "x": {opener * depth}1{closer * depth}}}'.encode())
