"""Every documented SageMaker runtime error shape -> the right gateway error and retry decision,
directly and through the Gateway (retries on the retryable ones, none on the others)."""

from __future__ import annotations

import json

import httpx
import pytest

from bench.sagemaker_fake import ERROR_SHAPES
from llmgateway import Gateway
from llmgateway import errors as e
from llmgateway.types import ChatCompletionRequest
from providers.aws.sagemaker_errors import error_code, sagemaker_error, stream_fault_error
from tests.providers.sagemaker.conftest import (
    CHAT_ANSWER,
    USER,
    Runtime,
    gateway_config,
    make_provider,
    shape_response,
)

REQUEST = ChatCompletionRequest.model_validate({"model": "chat", "messages": USER})

# shape -> (error class, retryable, status the gateway reports)
EXPECTED: dict[str, tuple[type[e.GatewayError], bool, int]] = {
    "ModelError400": (e.BadRequestError, False, 400),
    "ModelError500": (e.UpstreamServerError, True, 500),
    "ModelError429": (e.RateLimitError, True, 429),
    "ThrottlingException": (e.RateLimitError, True, 429),
    "ThrottlingExceptionBodyOnly": (e.RateLimitError, True, 429),
    "ModelNotReadyException": (e.ServiceUnavailableError, True, 503),
    "ValidationError": (e.BadRequestError, False, 400),
    "ValidationErrorNotFound": (e.NotFoundError, False, 404),
    "InternalFailure": (e.UpstreamServerError, True, 502),
    "ServiceUnavailable": (e.ServiceUnavailableError, True, 503),
    "InternalDependencyException": (e.UpstreamServerError, True, 502),
    "UnrecognizedClientException": (e.AuthenticationError, False, 401),
    "InvalidSignatureException": (e.AuthenticationError, False, 401),
    "AccessDeniedException": (e.PermissionDeniedError, False, 403),
}


def test_every_documented_shape_is_covered() -> None:
    assert set(EXPECTED) == set(ERROR_SHAPES)


@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_error_shape_maps_to_class(name: str, mock_client: httpx.AsyncClient, runtime: Runtime) -> None:
    runtime.replies = [name]
    provider = make_provider(mock_client)
    with pytest.raises(e.GatewayError) as caught:
        await provider.chat(REQUEST)
    error = caught.value
    cls, retryable, status = EXPECTED[name]
    assert type(error) is cls
    assert error.retryable is retryable
    assert error.status_code == status
    assert error.deployment == "sm"
    assert error.body == ERROR_SHAPES[name].body


def test_model_error_keeps_the_containers_status_message_and_logs() -> None:
    shape = ERROR_SHAPES["ModelError400"]
    headers = {"x-amzn-errortype": shape.error_type or ""}
    error = sagemaker_error(424, json.dumps(shape.body).encode(), headers, "sm")
    assert error.code == "ModelError"
    assert "answered HTTP 400" in error.message
    assert "Input validation error" in error.message
    assert "log-group:/aws/sagemaker/Endpoints/my-endpoint" in error.message


def test_model_error_without_original_status_is_a_retryable_upstream_error() -> None:
    error = sagemaker_error(424, b'{"Message": "model crashed"}', {"x-amzn-ErrorType": "ModelError"}, "sm")
    assert isinstance(error, e.UpstreamServerError) and error.retryable
    assert "model crashed" in error.message


@pytest.mark.parametrize(
    ("headers", "body", "code"),
    [
        (
            {"x-amzn-errortype": "ThrottlingException:http://internal.amazon.com/coral/x/"},
            {},
            "ThrottlingException",
        ),
        (
            {},
            {"__type": "com.amazon.coral.service#UnrecognizedClientException"},
            "UnrecognizedClientException",
        ),
        ({}, {"code": "ValidationError", "__type": "x#Other"}, "ValidationError"),
        ({}, {"message": "no type"}, None),
    ],
)
def test_error_type_is_read_like_botocore(
    headers: dict[str, str], body: dict[str, str], code: str | None
) -> None:
    assert error_code(headers, body) == code


def test_unknown_type_falls_back_to_the_http_status() -> None:
    assert isinstance(sagemaker_error(502, b"<html>bad gateway</html>", {}, "sm"), e.UpstreamServerError)
    assert isinstance(sagemaker_error(413, b"", {}, "sm"), e.BadRequestError)


def test_throttling_honours_retry_after() -> None:
    headers = {"x-amzn-ErrorType": "ThrottlingException", "retry-after": "3"}
    error = sagemaker_error(400, b'{"message": "Rate exceeded"}', headers, "sm")
    assert isinstance(error, e.RateLimitError) and error.retry_after == 3.0


@pytest.mark.parametrize("kind", ["ModelStreamError", "InternalStreamFailure"])
def test_stream_faults_are_retryable_before_and_interrupt_after_chunks(kind: str) -> None:
    before = stream_fault_error(kind, "the model stopped", "StreamBroken", 0, "sm")
    assert isinstance(before, e.UpstreamServerError) and before.retryable
    assert "StreamBroken" in before.message
    after = stream_fault_error(kind, "the model stopped", None, 3, "sm")
    assert isinstance(after, e.StreamInterruptedError) and after.chunks_received == 3


@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_gateway_retries_only_the_retryable(name: str, runtime: Runtime) -> None:
    runtime.replies = [name]  # the first try fails this way, the next one answers
    async with httpx.AsyncClient(transport=httpx.MockTransport(runtime)) as client:
        async with Gateway(gateway_config({}), http_client=client) as gw:
            if EXPECTED[name][1]:
                reply = await gw.chat.completions.create(model="chat", messages=USER)
                assert reply.text() == "Paris"
                assert reply.gateway is not None and len(reply.gateway.attempts) == 2
                assert reply.gateway.attempts[0].outcome == "error"
            else:
                with pytest.raises(EXPECTED[name][0]):
                    await gw.chat.completions.create(model="chat", messages=USER)
    assert len(runtime.requests) == (2 if EXPECTED[name][1] else 1)


async def test_gateway_falls_back_to_the_second_deployment(runtime: Runtime) -> None:
    def by_endpoint(request: httpx.Request) -> httpx.Response:
        if "/endpoints/ep-a/" in str(request.url):
            return shape_response("ModelError500")
        return httpx.Response(200, json=CHAT_ANSWER)

    runtime.default = by_endpoint
    config = gateway_config({"endpoint_name": "ep-a"}, {"endpoint_name": "ep-b"}, max_rounds=1)
    async with httpx.AsyncClient(transport=httpx.MockTransport(runtime)) as client:
        async with Gateway(config, http_client=client) as gw:
            reply = await gw.chat.completions.create(model="chat", messages=USER)
    assert reply.gateway is not None and reply.gateway.deployment == "sm-1"
    assert [a.deployment for a in reply.gateway.attempts] == ["sm-0", "sm-1"]
    assert (
        reply.gateway.attempts[0].error is not None and "answered HTTP 500" in reply.gateway.attempts[0].error
    )
