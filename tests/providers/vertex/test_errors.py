"""Every google.rpc.Status error shape -> the right class, retryable or not, with the status kept in
``code``; and the Gateway retries exactly the retryable ones."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from llmgateway import Gateway
from llmgateway import errors as e
from providers.gcp.errors import PredictionFormatError, parse_status, vertex_error
from tests.providers.vertex.helpers import OPENAI_ANSWER, REQUEST, gateway_config, provider, status_body

RETRY_INFO = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.5s"}

CASES = [
    (429, "RESOURCE_EXHAUSTED", e.RateLimitError, True),
    (400, "INVALID_ARGUMENT", e.BadRequestError, False),
    (400, "FAILED_PRECONDITION", e.BadRequestError, False),
    (400, "OUT_OF_RANGE", e.BadRequestError, False),
    (401, "UNAUTHENTICATED", e.AuthenticationError, False),
    (403, "PERMISSION_DENIED", e.PermissionDeniedError, False),
    (404, "NOT_FOUND", e.NotFoundError, False),
    (501, "UNIMPLEMENTED", e.NotFoundError, False),
    (499, "CANCELLED", e.UpstreamServerError, True),
    (500, "INTERNAL", e.UpstreamServerError, True),
    (500, "UNKNOWN", e.UpstreamServerError, True),
    (503, "UNAVAILABLE", e.ServiceUnavailableError, True),
    (504, "DEADLINE_EXCEEDED", e.UpstreamServerError, True),
    (409, "ABORTED", e.UpstreamServerError, True),
]


@pytest.mark.parametrize(("http", "status", "cls", "retryable"), CASES)
@pytest.mark.parametrize("wrapped", [False, True])
def test_status_maps_to_class(http: int, status: str, cls: type, retryable: bool, wrapped: bool) -> None:
    body = status_body(http, status, "it went wrong")
    raw = json.dumps([body] if wrapped else body).encode()
    error = vertex_error(http, raw, {}, deployment="vx")
    assert type(error) is cls
    assert error.retryable is retryable and error.code == status and error.deployment == "vx"
    assert "it went wrong" in error.message and status in error.message
    assert error.status_code != 499  # a cancelled upstream call is a bad gateway to our callers


def test_retry_info_sets_retry_after() -> None:
    raw = json.dumps(status_body(429, "RESOURCE_EXHAUSTED", details=[RETRY_INFO])).encode()
    error = vertex_error(429, raw, {}, deployment=None)
    assert isinstance(error, e.RateLimitError) and error.retry_after == 1.5
    # Without RetryInfo the Retry-After header counts.
    raw = json.dumps(status_body(503, "UNAVAILABLE")).encode()
    error = vertex_error(503, raw, {"retry-after": "3"}, deployment=None)
    assert isinstance(error, e.ServiceUnavailableError) and error.retry_after == 3.0


def test_status_string_decides_over_http_code_and_code_only_bodies_work() -> None:
    # A body with only the numeric code still gets its canonical name.
    raw = json.dumps({"error": {"code": 429, "message": "quota"}}).encode()
    error = vertex_error(429, raw, {}, deployment=None)
    assert isinstance(error, e.RateLimitError) and error.code == "RESOURCE_EXHAUSTED"


def test_prompt_too_long_is_a_context_window_error() -> None:
    message = "The input token count (40000) exceeds the maximum number of tokens allowed (32768)."
    error = vertex_error(
        400, json.dumps(status_body(400, "INVALID_ARGUMENT", message)).encode(), {}, deployment=None
    )
    assert isinstance(error, e.ContextWindowExceededError) and error.fallback


@pytest.mark.parametrize(
    ("http", "body", "cls"),
    [
        (502, b"<html><body>502 Server Error</body></html>", e.UpstreamServerError),
        (429, b"Too Many Requests", e.RateLimitError),
        (404, b'{"detail": "no route"}', e.NotFoundError),
    ],
)
def test_bodies_without_status_fall_back_to_http_code(http: int, body: bytes, cls: type) -> None:
    assert type(vertex_error(http, body, {}, deployment=None)) is cls


def test_parse_status_ignores_what_is_not_a_status() -> None:
    assert parse_status(b"not json") is None
    assert parse_status({"error": "a string"}) is None
    assert parse_status([{"x": 1}]) is None
    status = parse_status([{"error": {"code": 500, "status": "INTERNAL", "message": "m", "details": [1]}}])
    assert status is not None and (status.code, status.status, status.details) == (500, "INTERNAL", [1])


async def test_provider_raises_mapped_errors_for_plain_and_streamed_calls() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json=status_body(403, "PERMISSION_DENIED", "aiplatform.endpoints.predict"))

    vx = provider(handler, route="raw")
    with pytest.raises(e.PermissionDeniedError, match=r"aiplatform\.endpoints\.predict"):
        await vx.chat(REQUEST)
    with pytest.raises(e.PermissionDeniedError) as caught:
        async for _ in vx.stream_chat(REQUEST):
            pass
    assert caught.value.code == "PERMISSION_DENIED" and caught.value.deployment == "vx"


async def test_answer_in_an_unexpected_shape_is_not_retried() -> None:
    vx = provider(lambda r: httpx.Response(200, json={"predictions": [{"weird": 1}]}), route="predict")
    with pytest.raises(PredictionFormatError, match="prediction_field") as caught:
        await vx.chat(REQUEST)
    assert not caught.value.retryable and caught.value.fallback and caught.value.deployment == "vx"


def _flaky(status: int, name: str, calls: list[str]) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        if len(calls) == 1:
            return httpx.Response(status, json=[status_body(status, name)])
        return httpx.Response(200, json=OPENAI_ANSWER)

    return handler


@pytest.mark.parametrize(("http", "status", "cls", "retryable"), CASES)
async def test_gateway_retries_only_the_retryable(http: int, status: str, cls: type, retryable: bool) -> None:
    calls: list[str] = []
    client = httpx.AsyncClient(transport=httpx.MockTransport(_flaky(http, status, calls)))
    async with Gateway(gateway_config(route="chat"), http_client=client) as gw:
        if retryable:
            reply = await gw.chat.completions.create(
                model="chat", messages=[{"role": "user", "content": "hi"}]
            )
            assert reply.text() == "Paris" and len(calls) == 2
            assert reply.gateway is not None and reply.gateway.attempts[0].outcome == "error"
        else:
            with pytest.raises(cls) as caught:
                await gw.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])
            assert caught.value.code == status and len(calls) == 1
    await client.aclose()
