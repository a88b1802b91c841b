"""Requests are SigV4-signed as the runtime checks them (recomputed with botocore), with the
SageMaker headers signed along, for InvokeEndpoint and InvokeEndpointWithResponseStream."""

from __future__ import annotations

import json

import httpx
import pytest

from bench.sagemaker_fake import ACCESS_KEY, REGION, SECRET_KEY, check_signature, payload_part
from llmgateway import AuthenticationError
from llmgateway.types import ChatCompletionRequest
from providers.aws.sigv4 import signed_headers
from tests.providers.sagemaker.conftest import ENDPOINT, RUNTIME, USER, Runtime, make_provider

REQUEST = ChatCompletionRequest.model_validate({"model": "chat", "messages": USER, "max_tokens": 5})


def headers_of(request: httpx.Request) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers.items()}


async def test_invoke_is_signed_for_sagemaker_with_every_custom_header(
    mock_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    provider = make_provider(
        mock_client,
        custom_attributes="trace=abc123",
        target_model="model-a.tar.gz",
        target_variant="blue",
        target_container_hostname="container-1",
        inference_component="ic-llama",
        accept="application/json",
    )
    answer = await provider.chat(REQUEST)
    assert answer.text() == "Paris"
    sent = runtime.requests[0]
    assert str(sent.url) == f"{RUNTIME}/endpoints/{ENDPOINT}/invocations"
    headers = headers_of(sent)
    authorization = headers["authorization"]
    assert authorization.startswith(f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/")
    assert f"/{REGION}/sagemaker/aws4_request" in authorization
    signed = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
    for name in (
        "host",
        "x-amz-date",
        "content-type",
        "accept",
        "x-amzn-sagemaker-custom-attributes",
        "x-amzn-sagemaker-target-model",
        "x-amzn-sagemaker-target-variant",
        "x-amzn-sagemaker-target-container-hostname",
        "x-amzn-sagemaker-inference-component",
    ):
        assert name in signed, name
    assert headers["x-amzn-sagemaker-target-model"] == "model-a.tar.gz"
    assert headers["x-amzn-sagemaker-inference-component"] == "ic-llama"
    assert "x-amz-security-token" not in headers
    # botocore, given the secret, computes the same signature for what went on the wire.
    assert (
        check_signature("POST", str(sent.url), headers, sent.content, {ACCESS_KEY: (SECRET_KEY, None)})
        is None
    )
    # ... and a different one for any other secret or body.
    assert (
        check_signature("POST", str(sent.url), headers, sent.content, {ACCESS_KEY: ("wrong", None)})
        is not None
    )
    assert check_signature(
        "POST", str(sent.url), headers, sent.content + b" ", {ACCESS_KEY: (SECRET_KEY, None)}
    )
    body = json.loads(sent.content)
    assert "model" not in body and body["max_tokens"] == 5 and body["stream"] is False


async def test_stream_request_uses_the_streaming_headers(
    mock_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    events = b"".join(
        payload_part(b"data: " + json.dumps(c).encode() + b"\n\n")
        for c in (
            {**chunk, "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": "stop"}]},
            {
                **chunk,
                "choices": [],
                "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
            },
        )
    ) + payload_part(b"data: [DONE]\n\n")
    runtime.default = lambda request: httpx.Response(
        200, content=events, headers={"content-type": "application/vnd.amazon.eventstream"}
    )
    provider = make_provider(mock_client, custom_attributes="a=b", accept="text/event-stream")
    chunks = [c async for c in provider.stream_chat(REQUEST)]
    assert [c.choices[0].delta.content for c in chunks if c.choices] == ["Hi"]
    sent = runtime.requests[0]
    assert str(sent.url) == f"{RUNTIME}/endpoints/{ENDPOINT}/invocations-response-stream"
    headers = headers_of(sent)
    assert headers.get("accept") in (None, "*/*")  # as botocore: only X-Amzn-SageMaker-Accept
    assert headers["x-amzn-sagemaker-accept"] == "text/event-stream"
    assert headers["x-amzn-sagemaker-custom-attributes"] == "a=b"
    body = json.loads(sent.content)
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


async def test_session_token_is_sent_and_signed(mock_client: httpx.AsyncClient, runtime: Runtime) -> None:
    runtime.keys = {ACCESS_KEY: (SECRET_KEY, "session-token-1")}
    provider = make_provider(mock_client, session_token="session-token-1")
    await provider.chat(REQUEST)
    headers = headers_of(runtime.requests[0])
    assert headers["x-amz-security-token"] == "session-token-1"
    assert "x-amz-security-token" in headers["authorization"]


async def test_wrong_secret_is_an_authentication_error_not_retried(
    mock_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    provider = make_provider(mock_client, secret_access_key="not-the-secret")
    with pytest.raises(AuthenticationError, match="InvalidSignatureException") as caught:
        await provider.chat(REQUEST)
    assert not caught.value.retryable
    assert caught.value.code == "InvalidSignatureException"


def test_signed_headers_match_botocore_for_an_endpoint_url_with_a_port() -> None:
    from botocore.credentials import ReadOnlyCredentials

    url = "http://127.0.0.1:8123/endpoints/ep/invocations"
    body = b'{"inputs": "x"}'
    headers = signed_headers(
        ReadOnlyCredentials(ACCESS_KEY, SECRET_KEY, None),
        service="sagemaker",
        region=REGION,
        url=url,
        body=body,
        headers={"Content-Type": "application/json"},
    )
    wire = {k.lower(): v for k, v in headers.items()} | {"host": "127.0.0.1:8123"}
    assert check_signature("POST", url, wire, body, {ACCESS_KEY: (SECRET_KEY, None)}) is None
    # The port is part of the signed host: a request replayed to another port does not verify.
    moved = wire | {"host": "127.0.0.1:8124"}
    assert check_signature("POST", url, moved, body, {ACCESS_KEY: (SECRET_KEY, None)}) is not None
